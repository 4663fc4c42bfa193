#!/usr/bin/env python3
"""Generate the bundled sample dataset in ``sample_logs/``: deterministic, standard library only.

Three days (2026-11-17 to 2026-11-19, UTC) of chatbot conversation logs from three bots, one
file per day and bot, one record per message::

    python scripts/make_sample_logs.py            # rewrites sample_logs/
    python scripts/make_sample_logs.py --out DIR  # writes somewhere else

A fixed seed and start date make every run byte-identical (the gzip header carries no name and
no time). Before writing, the files this script owns in the output directory (``YYYY-MM-DD/`` +
a log file name) are deleted, so a changed layout leaves nothing stale behind; other files are
left alone.

What the data holds, on purpose:

- conversations of 1-6 turns; a bot reply 0.4-20 s (log-normal) after the user's message; some
  replies in two parts; some failed attempts (status failed/undelivered, ``error`` true, an
  ``error_code``, prompt tokens but few or no completion tokens) followed by a successful retry
  a few seconds later; rare delivered replies that still carry an API error;
- system and tool records (to be ignored), outbound template messages without a conversation
  id, and a few conversations that run past midnight into the next day's file;
- role, status, token and timestamp spellings that vary across and within files: ISO 8601 with
  ``Z`` or an offset, naive ISO (UTC), epoch seconds / milliseconds as numbers or strings;
  token counts as numbers or numeric strings; some records with only ``total_tokens``;
- public IPv4/IPv6 addresses per user (country-plausible), private ones, missing ones; the
  ``country`` field on about 70% of user messages, some lower-case;
- extra fields the tool must ignore (``text``, nested ``meta``), CSV/TSV files with their own
  column order, quoted text, and five malformed lines (a truncated JSON line, a garbage line,
  a JSON array, an unreadable timestamp, a CSV row with one field too many) plus a blank line.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import ipaddress
import json
import math
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal, TypeVar

SEED: Final = 20261117
START: Final = datetime(2026, 11, 17, tzinfo=UTC)
DAYS: Final = 3
DAY_MS: Final = 86_400_000
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
START_MS: Final = (START - EPOCH) // timedelta(milliseconds=1)
END_MS: Final = START_MS + DAYS * DAY_MS
SERVER_OFFSET_MIN: Final = 60  # the support-bot server logs in Europe/Berlin (CET in November)
DEFAULT_OUT: Final = Path(__file__).resolve().parent.parent / "sample_logs"

#: Files this script owns inside the output directory (and deletes before writing).
OWNED_FILE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}/[a-z0-9][a-z0-9-]*\.(?:jsonl|ndjson|json|csv|tsv)(?:\.gz)?"
)
DATE_DIR: Final = re.compile(r"\d{4}-\d{2}-\d{2}")

T = TypeVar("T")
Kind = Literal["user", "bot", "system", "tool"]
Format = Literal["jsonl", "csv", "tsv"]
Malformed = Literal["truncated", "garbage", "array", "bad_timestamp", "csv_width"]
Weighted = tuple[tuple[str, float], ...]


def pick(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    """One option, drawn by weight."""
    values = [value for value, _ in options]
    weights = [weight for _, weight in options]
    return rng.choices(values, weights=weights)[0]


def lognormal(rng: random.Random, median: float, sigma: float, low: float, high: float) -> float:
    return min(high, max(low, rng.lognormvariate(math.log(median), sigma)))


# --------------------------------------------------------------------------------------------
# Users: a fixed country, channel, IP and time zone each
# --------------------------------------------------------------------------------------------

COUNTRIES: Final[tuple[tuple[str, float], ...]] = (
    ("US", 18),
    ("DE", 14),
    ("GB", 10),
    ("IN", 10),
    ("FR", 7),
    ("BR", 7),
    ("ES", 5),
    ("IT", 5),
    ("NL", 4),
    ("PL", 4),
    ("JP", 4),
    ("MX", 4),
    ("CA", 4),
    ("AU", 4),
)
#: Plausible ISP address blocks per country: IPv4 /16 prefixes, IPv6 /32 prefixes.
IP_PREFIXES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "US": (("73.162", "98.210", "24.6"), ("2601:646", "2600:1700")),
    "DE": (("91.64", "87.123", "79.241"), ("2003:c0", "2a02:8108")),
    "GB": (("86.142", "81.108", "109.150"), ("2a00:23c6", "2a02:c7c")),
    "IN": (("49.36", "106.206", "117.96"), ("2409:40f2", "2401:4900")),
    "FR": (("90.27", "86.246", "109.12"), ("2a01:cb08", "2a01:e0a")),
    "BR": (("177.33", "189.6", "191.181"), ("2804:14c", "2804:d41")),
    "ES": (("83.45", "88.12", "79.152"), ("2a0c:5a80", "2a01:c50f")),
    "IT": (("93.44", "79.18", "151.38"), ("2a01:e11", "2001:b07")),
    "NL": (("84.26", "83.85", "145.53"), ("2a02:a450", "2001:1c00")),
    "PL": (("83.24", "89.64", "178.36"), ("2a01:110f", "2a02:a312")),
    "JP": (("126.15", "153.201", "60.67"), ("240b:10", "2400:4051")),
    "MX": (("187.189", "189.203", "201.141"), ("2806:2f0", "2806:102e")),
    "CA": (("24.114", "99.232", "142.114"), ("2607:fea8", "2001:56a")),
    "AU": (("1.145", "101.184", "120.22"), ("2001:8003", "2403:5800")),
}
#: UTC offsets in minutes (November), one drawn per user.
UTC_OFFSETS: Final[dict[str, tuple[int, ...]]] = {
    "US": (-300, -360, -480),
    "DE": (60,),
    "GB": (0,),
    "IN": (330,),
    "FR": (60,),
    "BR": (-180,),
    "ES": (60,),
    "IT": (60,),
    "NL": (60,),
    "PL": (60,),
    "JP": (540,),
    "MX": (-360,),
    "CA": (-300, -480),
    "AU": (660, 600),
}
LANGUAGES: Final[dict[str, str]] = {
    "DE": "de",
    "FR": "fr",
    "ES": "es",
    "MX": "es",
    "BR": "pt",
    "IT": "it",
    "JP": "ja",
    "PL": "pl",
    "NL": "nl",
}
CHANNELS: Final[tuple[tuple[str, float], ...]] = (("web", 60), ("whatsapp", 30), ("voice", 10))


@dataclass(frozen=True)
class User:
    user_id: str
    country: str
    channel: str
    ip: str | None
    utc_offset_min: int
    lang: str
    activity: float


def public_ipv4(rng: random.Random, country: str) -> str:
    prefix = rng.choice(IP_PREFIXES[country][0])
    return f"{prefix}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def public_ipv6(rng: random.Random, country: str) -> str:
    groups = rng.choice(IP_PREFIXES[country][1]).split(":")
    groups += [f"{rng.getrandbits(16):x}" for _ in range(4 - len(groups))]
    if rng.random() < 0.3:  # an address the ISP's router handed out: a short interface id
        groups += ["0", "0", "0", f"{rng.randint(1, 0xFFFF):x}"]
    else:  # a privacy-extension address: a random interface id
        groups += [f"{rng.getrandbits(16):x}" for _ in range(4)]
    return str(ipaddress.IPv6Address(":".join(groups)))


def private_ipv4(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
    return f"192.168.{rng.choice((0, 1, 178))}.{rng.randint(2, 254)}"


def user_ip(rng: random.Random, channel: str, country: str) -> str | None:
    roll = rng.random()
    if channel == "whatsapp":  # the WhatsApp API does not pass the user's address on
        return None if roll < 0.7 else public_ipv4(rng, country)
    if channel == "voice":  # calls come in through the telephony gateway on the private net
        return private_ipv4(rng) if roll < 0.75 else None
    if roll < 0.62:
        return public_ipv4(rng, country)
    if roll < 0.88:
        return public_ipv6(rng, country)
    if roll < 0.95:
        return private_ipv4(rng)  # staff and testers on the office network
    return None


def make_users(rng: random.Random, count: int) -> list[User]:
    users = []
    for _ in range(count):
        country = pick(rng, COUNTRIES)
        channel = pick(rng, CHANNELS)
        prefix = {"web": "u_", "whatsapp": "wa_", "voice": "tel_"}[channel]
        users.append(
            User(
                user_id=f"{prefix}{rng.getrandbits(40):010x}",
                country=country,
                channel=channel,
                ip=user_ip(rng, channel, country),
                utc_offset_min=rng.choice(UTC_OFFSETS[country]),
                lang=LANGUAGES.get(country, "en"),
                activity=rng.lognormvariate(0.0, 0.75),
            )
        )
    return users


# --------------------------------------------------------------------------------------------
# Bots and what is said
# --------------------------------------------------------------------------------------------


Exchange = tuple[str, str]  # what the user says, what the bot answers


@dataclass(frozen=True)
class Bot:
    bot_id: str
    conversations_per_day: tuple[int, int, int]
    models: tuple[tuple[str, float], ...]
    channels: tuple[str, ...]
    system_prompt_tokens: int
    tool_share: float
    openers: tuple[Exchange, ...]
    followups: tuple[Exchange, ...]
    second_parts: tuple[str, ...]
    tools: tuple[str, ...]
    tags: tuple[str, ...]


#: First messages to the support bot in the user's language; it answers in kind.
LOCAL_OPENERS: Final[dict[str, tuple[Exchange, ...]]] = {
    "de": (
        (
            "Hallo, ich komme nicht in mein Konto",
            "Kein Problem: Unter Einstellungen > Sicherheit können Sie Ihr Passwort zurücksetzen.",
        ),
        ("Wo finde ich meine Rechnung?", "Ihre Rechnungen finden Sie unter Konto > Zahlungen."),
    ),
    "fr": (
        (
            "Bonjour, ma commande n'est pas arrivée",
            "Je vérifie : elle est partie hier et arrivera sous 2 jours.",
        ),
        (
            "Est-ce que je peux payer en 3 fois ?",
            "Oui, le paiement en 3 fois est possible dès 100 €.",
        ),
    ),
    "es": (
        (
            "¿Puedo cambiar la dirección de envío?",
            "Sí, en Pedidos > Detalles, mientras no se haya enviado.",
        ),
        ("Hola, necesito ayuda con mi pedido", "¡Claro! ¿Me das el número de pedido?"),
    ),
    "pt": (
        ("Olá, preciso de ajuda com meu pedido", "Claro! Qual é o número do pedido?"),
        ("Vocês aceitam Pix?", "Sim, aceitamos Pix, cartão e boleto."),
    ),
    "it": (
        (
            "Ciao, non riesco ad accedere",
            "Nessun problema: vai su Impostazioni > Sicurezza e reimposta la password.",
        ),
        (
            "Mi avete addebitato due volte",
            "Vedo due addebiti: uno è una preautorizzazione che sparirà entro 3 giorni.",
        ),
    ),
    "ja": (
        ("パスワードを忘れました", "設定 > セキュリティ から再設定できます。"),
        ("請求書はどこで確認できますか", "アカウント > お支払い からダウンロードできます。"),
    ),
    "pl": (
        ("Dzień dobry, gdzie jest moja paczka?", "Paczka wyjechała wczoraj, dotrze w 2 dni."),
        ("Czy mogę zmienić plan?", "Tak, w Ustawienia > Plan, w każdej chwili."),
    ),
    "nl": (
        (
            "Hoi, mijn bestelling is nog niet binnen",
            "Ik kijk even: hij is gisteren verzonden en komt binnen 2 dagen.",
        ),
        ("Ik ben mijn wachtwoord vergeten", "Geen probleem: ik heb je een resetlink gemaild."),
    ),
}

BOTS: Final[tuple[Bot, ...]] = (
    Bot(
        bot_id="support-bot",
        conversations_per_day=(70, 68, 62),
        models=(("gpt-4o-mini", 0.7), ("claude-3-5-haiku", 0.3)),
        channels=("web", "whatsapp", "voice"),
        system_prompt_tokens=420,
        tool_share=0.2,
        openers=(
            (
                "Hi, I can't log in to my account",
                'Sorry to hear that. Open Settings > Security and tap "Reset password".',
            ),
            (
                "I forgot my password",
                "No worries: I've sent a reset link to the email on your account.",
            ),
            (
                "My order hasn't arrived yet, it's been 8 days",
                "I've checked your order: it left our warehouse yesterday and arrives in 2 days.",
            ),
            (
                "How do I change my delivery address?",
                "Under Orders > Details, as long as the order hasn't shipped yet.",
            ),
            (
                "The app keeps crashing when I open the cart",
                "Sorry about that! Please update to version 5.2.1, which fixes a cart crash.",
            ),
            (
                "Can I get a refund for order 48213?",
                "I've opened a refund request. You'll get an email within 24 hours.",
            ),
            (
                'It says "payment declined" but my card works',
                "That usually means your bank asked for 3-D Secure. Could you try once more?",
            ),
            (
                "I was charged twice, can you check?",
                "I see two charges; one is a pending hold that drops off within 3 days.",
            ),
            (
                "Where do I find my invoice?",
                "Your invoices are under Account > Billing, one PDF per order.",
            ),
        ),
        followups=(
            ("ok thanks", "You're welcome! Anything else I can help with?"),
            ("That didn't work", "Could you tell me the email address on your account?"),
            ("Can I talk to a human?", "Of course, I'm connecting you with a colleague."),
            ("It's the email I signed up with", "Thanks, I've found your account."),
            ("Still nothing, sorry", "Let me hand this to our team; they'll email you today."),
            ("Great, that fixed it!", "Glad it worked. Have a great day!"),
            (
                "And how long does the refund take?",
                "Refunds reach your card in 3-5 business days, sometimes sooner.",
            ),
        ),
        second_parts=(
            "One more thing: you can track your order live in the app.",
            "If that doesn't help, reply \"agent\" and I'll hand you over.",
        ),
        tools=("orders.lookup -> 200", "crm.get_customer -> 200", "kb.search -> 3 hits"),
        tags=("billing", "login", "shipping", "refund", "app"),
    ),
    Bot(
        bot_id="sales-bot",
        conversations_per_day=(46, 48, 42),
        models=(("claude-3-5-haiku", 0.65), ("gpt-4o-mini", 0.35)),
        channels=("web", "whatsapp"),
        system_prompt_tokens=380,
        tool_share=0.1,
        openers=(
            (
                "What's the price of the Pro plan?",
                "The Pro plan is $29 per seat per month, or $290 a year.",
            ),
            (
                "Do you offer discounts for nonprofits?",
                "Yes, nonprofits get 30% off. I can send you the form.",
            ),
            (
                "Can I pay yearly, and is there a discount?",
                "Yes: yearly billing saves you two months, about 17%.",
            ),
            ("I'd like a demo", "Sure! Pick a time that suits you: https://example.com/demo"),
            ("Is there a free trial?", "There's a 14-day free trial, no credit card needed."),
            (
                "What's the difference between Basic and Pro?",
                "Pro adds SSO, audit logs, and priority support.",
            ),
        ),
        followups=(
            ("ok, and for 25 seats?", "For 25 seats, yearly billing, that's $7,250 a year."),
            ("Send me the link please", "Here you go: https://example.com/signup"),
            ("Thanks, I'll think about it", "Sure, take your time. I'm here if you need me."),
            ("Do you take PayPal?", "We accept cards, PayPal and bank transfer."),
            ("perfect", "Great! Anything else I can help with?"),
        ),
        second_parts=(
            "Here is the full comparison: https://example.com/pricing",
            "Want me to set up the trial for you?",
        ),
        tools=("crm.create_lead -> 201", "pricing.quote -> 200"),
        tags=("pricing", "demo", "trial", "discount"),
    ),
    Bot(
        bot_id="onboarding-bot",
        conversations_per_day=(35, 37, 31),
        models=(("llama-3.1-70b", 0.8), ("gpt-4o-mini", 0.2)),
        channels=("web", "whatsapp"),
        system_prompt_tokens=300,
        tool_share=0.15,
        openers=(
            (
                "How do I invite my team?",
                'Go to Settings > Team and click "Invite". Paste several emails, comma-separated.',
            ),
            (
                "Where do I connect my calendar?",
                "Under Settings > Integrations: pick Google, Outlook, or iCloud.",
            ),
            ("I'm stuck on step 3", "Step 3 needs a workspace name; anything works for now."),
            (
                "What does 'workspace' mean here?",
                "A workspace is where your team's projects, files, and chats live.",
            ),
            (
                "Can I import my contacts from a CSV?",
                "Yes: Contacts > Import accepts CSV files up to 10 MB.",
            ),
        ),
        followups=(
            ("done", "Great, that step is done. Next: connect your calendar."),
            ("next", "Next up: invite your team, or skip it for now."),
            ("It says my link expired", "I've sent you a fresh link; it's valid for 24 hours."),
            ("How do I undo that?", "Press Ctrl+Z, or open History and restore the change."),
        ),
        second_parts=("Tip: press ? anywhere to see the keyboard shortcuts.",),
        tools=("calendar.connect -> 200", "invites.send -> 202", "calendar.connect -> 401"),
        tags=("setup", "team", "calendar", "import"),
    ),
)
OUTBOUND_TEXTS: Final = (
    "Hi! Your Pro trial ends in 3 days. Reply YES to extend it by a week.",
    "Thanks for your interest! Here is the brochure you asked for: https://example.com/pro.pdf",
)
FAILURE_CODES: Final[tuple[tuple[str, float], ...]] = (
    ("rate_limit", 0.4),
    ("timeout", 0.3),
    ("500", 0.2),
    ("503", 0.1),
)
SOFT_ERRORS: Final[tuple[tuple[str, str], ...]] = (
    ("content_filter", "response partially filtered"),
    ("stream_interrupted", "stream interrupted, partial response sent"),
    ("tool_error", "tool call failed, answered without it"),
)
TURNS: Final[tuple[tuple[int, float], ...]] = ((1, 22), (2, 26), (3, 21), (4, 14), (5, 10), (6, 7))
#: Conversation starts per UTC hour: users are spread from Asia to the Americas.
HOURLY: Final[tuple[tuple[int, float], ...]] = tuple(
    enumerate((2, 1.5, 1.2, 1, 1, 1.5, 3, 5, 7, 8, 8, 8, 8, 8, 8, 8, 7, 7, 6, 6, 5, 4, 3, 2.5))
)


# --------------------------------------------------------------------------------------------
# Events: what happened, before any file decides how to spell it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    conversation_id: str | None
    bot: Bot
    user: User
    channel: str
    model: str | None


@dataclass
class Event:
    t_ms: int
    kind: Kind
    conv: Conversation
    text: str
    status: str | None = None
    prompt: int | None = None
    completion: int | None = None
    total_only: bool = False
    error: bool | str = False
    error_code: str | None = None
    latency_ms: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    coarse: bool = False  # logged with whole seconds
    seq: int = 0


def delivered_status(rng: random.Random, channel: str) -> str:
    if channel == "whatsapp":
        return pick(rng, (("delivered", 0.5), ("read", 0.4), ("sent", 0.1)))
    return pick(rng, (("delivered", 0.8), ("sent", 0.2)))


class Generator:
    """Draws users, conversations and their events from one seeded random stream."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.users = make_users(self.rng, 380)
        self.events: list[Event] = []
        self.crossing: list[str] = []

    def run(self) -> list[Event]:
        for bot in BOTS:
            for day in range(DAYS):
                for _ in range(bot.conversations_per_day[day]):
                    self.add_conversation(bot, day)
        for day in range(DAYS - 1):  # a few conversations that run past midnight
            for bot in BOTS:
                self.add_conversation(bot, day, cross_midnight=True)
        for day in range(DAYS):
            self.add_outbound(day)
        for seq, event in enumerate(self.events):
            event.seq = seq
        return self.events

    def choose_user(self) -> User:
        weights = [user.activity for user in self.users]
        return self.rng.choices(self.users, weights=weights)[0]

    def add_conversation(self, bot: Bot, day: int, *, cross_midnight: bool = False) -> None:
        rng = self.rng
        user = self.choose_user()
        channel = user.channel if user.channel in bot.channels else "web"
        conv = Conversation(
            conversation_id=f"conv_{rng.getrandbits(48):012x}",
            bot=bot,
            user=user,
            channel=channel,
            model=pick(rng, bot.models),
        )
        turns = rng.choice((5, 6)) if cross_midnight else pick(rng, TURNS)
        events = self.conversation_events(conv, turns)
        duration = events[-1].t_ms - events[0].t_ms
        day_start = START_MS + day * DAY_MS
        if cross_midnight:
            start = day_start + DAY_MS - int(duration * rng.uniform(0.3, 0.7))
        else:
            hour = pick(rng, HOURLY)
            start = day_start + hour * 3_600_000 + rng.randrange(3_600_000)
            start = max(start, START_MS + 60_000)
            start = min(start, END_MS - duration - rng.randint(1_000, 900_000))
        coarse = rng.random() < FILES[(day, bot.bot_id)].coarse_share
        previous = -1
        for event in events:
            event.t_ms += start
            if coarse:  # logged with whole seconds: keep the order, at least 1 s apart
                event.t_ms = max(event.t_ms // 1000 * 1000, previous + 1000)
                event.coarse = True
                previous = event.t_ms
        if cross_midnight:
            assert events[0].t_ms < day_start + DAY_MS <= events[-1].t_ms
        if (events[0].t_ms - START_MS) // DAY_MS != (events[-1].t_ms - START_MS) // DAY_MS:
            self.crossing.append(str(conv.conversation_id))
        assert events[0].t_ms >= START_MS and events[-1].t_ms < END_MS
        self.events.extend(events)

    def conversation_events(self, conv: Conversation, turns: int) -> list[Event]:
        """The events of one conversation, timed from 0."""
        rng, bot = self.rng, conv.bot
        events: list[Event] = []
        t = 0
        if rng.random() < 0.45:
            prompt = bot.system_prompt_tokens + rng.randint(0, 60) if rng.random() < 0.5 else None
            text = f"session started; prompt={bot.bot_id.split('-')[0]}-v{rng.randint(12, 14)}"
            events.append(Event(0, "system", conv, text, prompt=prompt))
            t = rng.randint(5, 400)
        history = 0
        for turn in range(turns):
            opener = turn == 0
            if opener and bot is BOTS[0] and conv.user.lang in LOCAL_OPENERS and rng.random() < 0.5:
                text, answer = rng.choice(LOCAL_OPENERS[conv.user.lang])
            else:
                text, answer = rng.choice(bot.openers if opener else bot.followups)
            tags = (rng.choice(bot.tags),) if opener and rng.random() < 0.5 else ()
            events.append(Event(t, "user", conv, text, status="sent", tags=tags))
            history += len(text) // 3 + rng.randint(120, 320)
            t = self.reply_events(conv, events, t, history, answer)
            t += int(lognormal(rng, 22.0, 0.8, 2.5, 300.0) * 1000)
        return events

    def reply_events(
        self, conv: Conversation, events: list[Event], asked: int, history: int, answer: str
    ) -> int:
        """Append the bot's answer to the user message at ``asked``; returns its last time."""
        rng, bot = self.rng, conv.bot
        prompt = min(3000, max(200, bot.system_prompt_tokens + history + rng.randint(0, 250)))
        completion = int(lognormal(rng, 140.0, 0.6, 20.0, 800.0))
        slow = {"llama-3.1-70b": 1.3, "claude-3-5-haiku": 0.95}.get(str(conv.model), 1.0)
        delay = lognormal(rng, 2.2 * slow, 0.7, 0.4, 17.0) + completion * 0.003
        delay_ms = int(min(20.0, max(0.4, delay)) * 1000)
        total_only = rng.random() < (0.6 if conv.model == "llama-3.1-70b" else 0.03)
        if rng.random() < bot.tool_share and delay_ms >= 800:
            at = asked + int(delay_ms * rng.uniform(0.2, 0.6))
            events.append(Event(at, "tool", conv, rng.choice(bot.tools)))
            prompt = min(3000, prompt + rng.randint(150, 600))
        t = asked
        attempt_fails = rng.random() < 0.035
        while attempt_fails:
            code = pick(rng, FAILURE_CODES)
            if code == "timeout":
                spent = rng.randint(10_000, 15_000)
                partial = rng.randint(0, 30)
            else:
                spent = rng.randint(150, 4_000) if code != "rate_limit" else rng.randint(150, 1_200)
                partial = 0
            status = "undelivered" if conv.channel == "whatsapp" else "failed"
            t += spent
            events.append(
                Event(
                    t,
                    "bot",
                    conv,
                    "",
                    status=status,
                    prompt=prompt,
                    completion=partial,
                    total_only=total_only,
                    error=True,
                    error_code=code,
                    latency_ms=spent,
                )
            )
            t += rng.randint(1_500, 6_000)  # back off, then retry
            attempt_fails = rng.random() < 0.2
        if t > asked:  # the retry still has to generate its answer
            delay_ms = min(delay_ms, rng.randint(400, 3_000))
        t += delay_ms
        error: bool | str = False
        error_code = None
        if rng.random() < 0.012:  # delivered, but the API reported a problem
            error_code, message = rng.choice(SOFT_ERRORS)
            error = message if rng.random() < 0.3 else True
        tags = (rng.choice(bot.tags),) if rng.random() < 0.6 else ()
        events.append(
            Event(
                t,
                "bot",
                conv,
                answer,
                status=delivered_status(rng, conv.channel),
                prompt=prompt,
                completion=completion,
                total_only=total_only,
                error=error,
                error_code=error_code,
                latency_ms=delay_ms,
                tags=tags,
            )
        )
        if rng.random() < 0.08:  # a reply in two parts
            t += rng.randint(400, 2_500)
            part = rng.choice(bot.second_parts)
            status = delivered_status(rng, conv.channel)
            events.append(Event(t, "bot", conv, part, status=status))
        return t

    def add_outbound(self, day: int) -> None:
        """Template messages the sales bot sends on its own: no conversation, no tokens."""
        rng = self.rng
        sales = BOTS[1]
        whatsapp = [user for user in self.users if user.channel == "whatsapp"]
        for _ in range(5):
            user = rng.choice(whatsapp)
            conv = Conversation(None, sales, user, "whatsapp", None)
            t = START_MS + day * DAY_MS + rng.randint(10 * 3_600_000, 11 * 3_600_000)
            text = rng.choice(OUTBOUND_TEXTS)
            status = delivered_status(rng, "whatsapp")
            self.events.append(Event(t, "bot", conv, text, status=status))


# --------------------------------------------------------------------------------------------
# Files: how each one spells what happened
# --------------------------------------------------------------------------------------------

JSON_KEYS: Final = (
    "timestamp",
    "conversation_id",
    "user_id",
    "bot_id",
    "channel",
    "role",
    "status",
    "model",
    "text",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "error",
    "error_code",
    "ip",
    "country",
    "meta",
)
CSV_COLUMNS_A: Final = (
    "conversation_id",
    "timestamp",
    "user_id",
    "bot_id",
    "channel",
    "role",
    "status",
    "model",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "error",
    "error_code",
    "country",
    "ip",
    "text",
)
CSV_COLUMNS_B: Final = (
    "timestamp",
    "role",
    "conversation_id",
    "status",
    "user_id",
    "text",
    "country",
    "ip",
    "bot_id",
    "channel",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "error",
    "error_code",
    "latency_ms",
)
TSV_COLUMNS: Final = (
    "user_id",
    "conversation_id",
    "timestamp",
    "role",
    "status",
    "channel",
    "bot_id",
    "model",
    "total_tokens",
    "completion_tokens",
    "prompt_tokens",
    "error_code",
    "error",
    "ip",
    "country",
    "text",
)
USER_WORDS: Final[Weighted] = (("user", 0.85), ("human", 0.1), ("customer", 0.05))
BOT_WORDS: Final[Weighted] = (("assistant", 0.88), ("bot", 0.07), ("ai", 0.05))
#: Timestamp styles whose text carries whole seconds only.
COARSE_STYLES: Final = frozenset({"naive_s", "iso_z_s", "epoch_s"})


@dataclass(frozen=True)
class FileSpec:
    day: int
    bot_id: str
    fmt: Format
    gz: bool = False
    user_styles: Weighted = (("iso_z_ms", 1.0),)
    bot_styles: Weighted = (("iso_z_ms", 1.0),)
    coarse_share: float = 0.0  # conversations logged in whole seconds
    coarse_styles: Weighted = (("naive_s", 1.0),)
    user_words: Weighted = USER_WORDS
    bot_words: Weighted = BOT_WORDS
    token_str_share: float = 0.0  # JSON: token counts written as strings
    total_share: float = 0.5  # total_tokens written next to the prompt/completion split
    no_error: Literal["false", "null", "omit"] = "false"  # JSON: `error` of a clean bot record
    numeric_codes: bool = False  # JSON: "500" written as 500
    all_keys: bool = False  # JSON: every key on every record, null when missing
    compact: bool = True
    user_status: bool = True
    country_share: float = 0.7
    lower_share: float = 0.0
    bot_ip_share: float = 0.0
    columns: tuple[str, ...] = ()
    error_words: tuple[str, str] = ("true", "false")  # CSV/TSV
    crlf: bool = False
    malformed: tuple[tuple[Malformed, float], ...] = ()  # kind, position as a share of lines
    blank_line_at: float | None = None

    @property
    def path(self) -> str:
        date = (START + timedelta(days=self.day)).strftime("%Y-%m-%d")
        ext = {"jsonl": ".jsonl", "csv": ".csv", "tsv": ".tsv"}[self.fmt]
        return f"{date}/{self.bot_id}{ext}{'.gz' if self.gz else ''}"


FILE_SPECS: Final[tuple[FileSpec, ...]] = (
    FileSpec(
        0,
        "support-bot",
        "jsonl",
        user_styles=(("iso_z_ms", 0.6), ("iso_offset_ms", 0.4)),
        user_words=(("user", 0.9), ("human", 0.1)),
        compact=False,
        bot_ip_share=0.6,
        malformed=(("truncated", 0.37),),
    ),
    FileSpec(
        0,
        "sales-bot",
        "csv",
        user_styles=(("iso_z_ms", 0.7), ("naive_ms", 0.3)),
        bot_styles=(("iso_z_ms", 0.7), ("naive_ms", 0.3)),
        coarse_share=0.25,
        coarse_styles=(("naive_s", 0.6), ("epoch_s", 0.4)),
        user_words=(("user", 0.75), ("customer", 0.25)),
        bot_words=(("assistant", 0.8), ("bot", 0.2)),
        columns=CSV_COLUMNS_A,
    ),
    FileSpec(
        0,
        "onboarding-bot",
        "jsonl",
        user_styles=(("epoch_ms", 0.8), ("epoch_ms_str", 0.2)),
        bot_styles=(("epoch_ms", 0.8), ("epoch_ms_str", 0.2)),
        coarse_share=0.2,
        coarse_styles=(("epoch_s", 1.0),),
        bot_words=(("assistant", 0.8), ("ai", 0.2)),
        token_str_share=0.2,
        total_share=0.0,
        no_error="omit",
        lower_share=0.3,
        malformed=(("bad_timestamp", 0.52),),
    ),
    FileSpec(
        1,
        "support-bot",
        "jsonl",
        user_styles=(("iso_offset_ms", 0.7), ("iso_z_ms", 0.3)),
        bot_styles=(("iso_server_ms", 1.0),),
        coarse_share=0.15,
        coarse_styles=(("naive_s", 1.0),),
        token_str_share=0.1,
        total_share=1.0,
        no_error="null",
        all_keys=True,
        lower_share=0.05,
        bot_ip_share=0.5,
        malformed=(("garbage", 0.21),),
    ),
    FileSpec(
        1,
        "sales-bot",
        "csv",
        user_styles=(("epoch_ms", 1.0),),
        bot_styles=(("epoch_ms", 1.0),),
        coarse_share=0.4,
        coarse_styles=(("epoch_s", 1.0),),
        user_words=(("customer", 0.6), ("user", 0.4)),
        user_status=False,
        columns=CSV_COLUMNS_B,
        malformed=(("csv_width", 0.63),),
    ),
    FileSpec(
        1,
        "onboarding-bot",
        "tsv",
        user_styles=(("naive_ms", 0.5), ("iso_z_ms", 0.5)),
        bot_styles=(("naive_ms", 0.5), ("iso_z_ms", 0.5)),
        coarse_share=0.3,
        coarse_styles=(("naive_s", 1.0),),
        user_words=(("user", 0.8), ("human", 0.2)),
        total_share=0.3,
        columns=TSV_COLUMNS,
        error_words=("1", "0"),
    ),
    FileSpec(
        2,
        "support-bot",
        "jsonl",
        user_styles=(("epoch_ms_str", 0.5), ("iso_z_ms", 0.5)),
        bot_styles=(("epoch_ms_str", 0.5), ("iso_z_ms", 0.5)),
        coarse_share=0.35,
        coarse_styles=(("epoch_s", 0.7), ("iso_z_s", 0.3)),
        token_str_share=0.25,
        numeric_codes=True,
        bot_ip_share=0.3,
        blank_line_at=0.44,
    ),
    FileSpec(
        2,
        "sales-bot",
        "csv",
        columns=CSV_COLUMNS_A,
        user_words=(("user", 0.85), ("customer", 0.15)),
        total_share=0.8,
        crlf=True,
    ),
    FileSpec(
        2,
        "onboarding-bot",
        "jsonl",
        gz=True,
        user_styles=(
            ("iso_z_ms", 0.35),
            ("iso_offset_ms", 0.25),
            ("epoch_ms", 0.25),
            ("epoch_ms_str", 0.1),
            ("epoch_float", 0.05),
        ),
        bot_styles=(("iso_z_ms", 0.5), ("epoch_ms", 0.4), ("epoch_float", 0.1)),
        coarse_share=0.2,
        coarse_styles=(("epoch_s", 0.5), ("naive_s", 0.5)),
        bot_words=(("assistant", 0.85), ("ai", 0.15)),
        token_str_share=0.1,
        total_share=0.0,
        no_error="omit",
        lower_share=0.1,
        malformed=(("array", 0.58),),
    ),
)
FILES: Final[dict[tuple[int, str], FileSpec]] = {(s.day, s.bot_id): s for s in FILE_SPECS}


def offset_text(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def format_timestamp(ms: int, style: str, offset_min: int) -> str | int | float:
    """One instant, in one of the timestamp styles found in the wild."""
    if style in COARSE_STYLES:
        assert ms % 1000 == 0, "a whole-seconds style on a millisecond timestamp"
    when = EPOCH + timedelta(milliseconds=ms)
    frac = f"{ms % 1000:03d}"
    if style == "iso_z_ms":
        return f"{when:%Y-%m-%dT%H:%M:%S}.{frac}Z"
    if style == "iso_z_s":
        return f"{when:%Y-%m-%dT%H:%M:%S}Z"
    if style in ("iso_offset_ms", "iso_server_ms"):
        minutes = offset_min if style == "iso_offset_ms" else SERVER_OFFSET_MIN
        local = when + timedelta(minutes=minutes)
        return f"{local:%Y-%m-%dT%H:%M:%S}.{frac}{offset_text(minutes)}"
    if style == "naive_ms":
        return f"{when:%Y-%m-%d %H:%M:%S}.{frac}"
    if style == "naive_s":
        return f"{when:%Y-%m-%d %H:%M:%S}"
    if style == "epoch_s":
        return ms // 1000
    if style == "epoch_ms":
        return ms
    if style == "epoch_ms_str":
        return str(ms)
    if style == "epoch_float":
        return ms / 1000
    raise ValueError(f"unknown timestamp style {style!r}")


def record_fields(event: Event, spec: FileSpec, rng: random.Random) -> dict[str, object]:
    """The record as written to this file: canonical fields plus extras, None = missing."""
    conv, user = event.conv, event.conv.user
    if event.coarse and spec.coarse_share > 0 and rng.random() < 0.8:
        style = pick(rng, spec.coarse_styles)
    else:
        style = pick(rng, spec.user_styles if event.kind == "user" else spec.bot_styles)
    if event.kind == "user":
        role = pick(rng, spec.user_words)
    elif event.kind == "bot":
        role = pick(rng, spec.bot_words)
    else:
        role = event.kind

    prompt: int | None = event.prompt
    completion: int | None = event.completion
    total: int | None = None
    if event.prompt is not None and event.completion is not None:
        if event.total_only:
            prompt, completion, total = None, None, event.prompt + event.completion
        elif rng.random() < spec.total_share:
            total = event.prompt + event.completion

    error: object = None
    if event.kind == "bot":
        error = event.error if event.error else (False if spec.no_error == "false" else None)
    if event.kind == "user":
        present = rng.random() < spec.country_share
    else:
        present = event.kind == "bot" and rng.random() < 0.08
    country = None
    if present:
        country = user.country.lower() if rng.random() < spec.lower_share else user.country
    ip = user.ip if event.kind == "user" or rng.random() < spec.bot_ip_share else None

    meta: dict[str, object] | None = None
    if event.latency_ms is not None:
        queue, post = rng.randint(2, 60), rng.randint(5, 80)
        model = max(0, event.latency_ms - queue - post)
        breakdown = {"queue_ms": queue, "model_ms": model, "post_ms": post}
        meta = {"latency_breakdown": breakdown}
        if event.tags:
            meta["tags"] = list(event.tags)
    elif event.tags:
        meta = {"tags": list(event.tags)}
    return {
        "timestamp": format_timestamp(event.t_ms, style, user.utc_offset_min),
        "conversation_id": conv.conversation_id,
        "user_id": user.user_id,
        "bot_id": conv.bot.bot_id,
        "channel": conv.channel,
        "role": role,
        "status": event.status if event.kind != "user" or spec.user_status else None,
        "model": conv.model if event.kind in ("bot", "system") else None,
        "text": event.text or None,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "error": error,
        "error_code": event.error_code,
        "ip": ip,
        "country": country,
        "meta": meta,
        "latency_ms": event.latency_ms,
    }


def json_line(fields: dict[str, object], spec: FileSpec, rng: random.Random) -> str:
    as_text = rng.random() < spec.token_str_share
    record: dict[str, object] = {}
    for key in JSON_KEYS:
        value = fields[key]
        if value is None and not spec.all_keys:
            continue
        if as_text and key.endswith("_tokens") and isinstance(value, int):
            value = str(value)
        if spec.numeric_codes and key == "error_code" and isinstance(value, str):
            value = int(value) if value.isdigit() else value
        record[key] = value
    separators = (",", ":") if spec.compact else (", ", ": ")
    return json.dumps(record, ensure_ascii=False, separators=separators)


def cell(value: object, spec: FileSpec) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return spec.error_words[0] if value else spec.error_words[1]
    return str(value)


def table_line(values: Sequence[str], spec: FileSpec) -> str:
    buffer = io.StringIO()
    delimiter = "\t" if spec.fmt == "tsv" else ","
    terminator = "\r\n" if spec.crlf else "\n"
    csv.writer(buffer, delimiter=delimiter, lineterminator=terminator).writerow(values)
    return buffer.getvalue()


def malformed_line(kind: Malformed, neighbour: dict[str, object], spec: FileSpec) -> str:
    """A broken line, modelled on the record next to it."""
    if kind == "truncated":  # a write cut short by a crash; the full record follows
        whole = json_line(neighbour, replace(spec, token_str_share=0.0), random.Random(0))
        return whole[: len(whole) * 11 // 20]
    if kind == "garbage":
        return "2026-11-18 04:12:09,331 WARNING botlog.writer: flush failed, buffer re-queued"
    if kind == "array":  # a serializer that wrote the values without their keys
        values = [neighbour[key] for key in ("timestamp", "role", "conversation_id", "text")]
        return json.dumps(values, ensure_ascii=False)
    if kind == "bad_timestamp":  # a client that wrote a relative time
        record = {key: neighbour[key] for key in JSON_KEYS if neighbour[key] is not None}
        record["timestamp"] = "yesterday"
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    # csv_width: a user's message whose text has a comma but was written without quotes
    row = {column: cell(neighbour[column], spec) for column in spec.columns}
    bot_only = ("status", "model", "error", "error_code", "latency_ms")
    row.update({column: "" for column in spec.columns if column.endswith("_tokens")})
    row.update({column: "" for column in bot_only if column in row})
    row.update(role="customer", text="Hi, is the Pro plan billed in EUR?")
    return ",".join(row[column] for column in spec.columns) + "\n"


@dataclass(frozen=True)
class Written:
    path: str
    records: int
    malformed: int
    size: int


def render_file(spec: FileSpec, events: list[Event]) -> tuple[bytes, Written]:
    rng = random.Random(f"{SEED}:{spec.path}")
    ordered = sorted(events, key=lambda event: (event.t_ms, event.seq))
    rows = [record_fields(event, spec, rng) for event in ordered]
    if spec.fmt == "jsonl":
        lines = [json_line(row, spec, rng) + "\n" for row in rows]
    else:
        lines = [table_line([cell(row[c], spec) for c in spec.columns], spec) for row in rows]
    inserts: list[tuple[int, str]] = []
    for kind, share in spec.malformed:
        at = int(len(rows) * share)
        text = malformed_line(kind, rows[at], spec)
        inserts.append((at, text if text.endswith("\n") else text + "\n"))
    if spec.blank_line_at is not None:
        inserts.append((int(len(rows) * spec.blank_line_at), "\n"))
    for at, text in sorted(inserts, reverse=True):
        lines.insert(at, text)
    if spec.columns:
        lines.insert(0, table_line(spec.columns, spec))
    data = "".join(lines).encode("utf-8")
    if spec.gz:
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as compressed:
            compressed.write(data)
        data = buffer.getvalue()
    return data, Written(spec.path, len(rows), len(spec.malformed), len(data))


def remove_owned_files(out: Path) -> None:
    """Delete the log files this script writes (``YYYY-MM-DD/name.ext``) and empty date dirs."""
    if not out.is_dir():
        return
    for path in sorted(out.glob("*/*")):
        if path.is_file() and OWNED_FILE.fullmatch(path.relative_to(out).as_posix()):
            path.unlink()
    for directory in sorted(out.iterdir()):
        is_date_dir = directory.is_dir() and DATE_DIR.fullmatch(directory.name)
        if is_date_dir and not any(directory.iterdir()):
            directory.rmdir()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    out: Path = args.out

    generator = Generator(SEED)
    by_file: dict[tuple[int, str], list[Event]] = {key: [] for key in FILES}
    for event in generator.run():
        by_file[((event.t_ms - START_MS) // DAY_MS, event.conv.bot.bot_id)].append(event)

    remove_owned_files(out)
    written: list[Written] = []
    for spec in FILE_SPECS:
        data, info = render_file(spec, by_file[(spec.day, spec.bot_id)])
        target = out / spec.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(info)

    width = max(len(info.path) for info in written)
    for info in written:
        print(f"  {info.path:<{width}}  {info.records:>5} records  {info.size:>8,} bytes")
    records = sum(info.records for info in written)
    malformed = sum(info.malformed for info in written)
    size = sum(info.size for info in written)
    print(
        f"{len(written)} files in {out}: {records:,} records + {malformed} malformed lines, "
        f"{size:,} bytes; {len(generator.crossing)} conversations cross midnight"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
