"""Ready mappings for widely used log formats, each built from the format's published docs
(or, for an undocumented format, from its published schema and the parsers that read it).

A preset is a field mapping plus the record shape (one record per message, or one per
request/response exchange), any status words the format uses for a failure and the role
words of a message-shaped format. ``fields:`` in the config still wins over a preset, key by
key. A preset's ``message_id_2``/``message_id_3`` are the further parts of a composite
message id (``fields.message_id`` given as a list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

Shape = Literal["message", "exchange"]
SHAPES: Final[tuple[Shape, ...]] = ("message", "exchange")


@dataclass(frozen=True)
class Preset:
    name: str
    shape: Shape
    description: str
    source: str  # where the format is documented
    fields: Mapping[str, str]
    failed_statuses: tuple[str, ...] = ()
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: What the preset cannot read, in a few words (shown by ``botistat presets``).
    limits: str = ""


PRESETS: Final[dict[str, Preset]] = {
    preset.name: preset
    for preset in (
        Preset(
            name="openai",
            shape="exchange",
            description="OpenAI chat completion objects, one per request, or error objects",
            source="https://platform.openai.com/docs/api-reference/chat/object",
            fields=MappingProxyType(
                {
                    "timestamp": "created",
                    "model": "model",
                    "prompt_tokens": "usage.prompt_tokens",
                    "completion_tokens": "usage.completion_tokens",
                    "total_tokens": "usage.total_tokens",
                    "error": "error.message",
                    "error_code": "error.code",
                }
            ),
            limits="no latency in the format, so no response times",
        ),
        Preset(
            name="openai-batch",
            shape="exchange",
            description="OpenAI Batch API output and error files, one line per request "
            '({"id", "custom_id", "response": {"status_code", "body"}, "error"})',
            source="https://platform.openai.com/docs/guides/batch (the request output object)",
            fields=MappingProxyType(
                {
                    # The completion's creation time: the only time a line carries.
                    "timestamp": "response.body.created",
                    # Each request stands alone; custom_id is the caller's key for it.
                    "conversation_id": "custom_id",
                    "model": "response.body.model",
                    "prompt_tokens": "response.body.usage.prompt_tokens",
                    "completion_tokens": "response.body.usage.completion_tokens",
                    "total_tokens": "response.body.usage.total_tokens",
                    # An HTTP failure (status 4xx/5xx) carries the API's error envelope.
                    "error": "response.body.error",
                    # A request never run: batch_expired, batch_cancelled, request_timeout.
                    "error_code": "error.code",
                }
            ),
            limits="no latency, so no response times; failed requests carry no time and are "
            "skipped lines; prompt tokens include cached ones; the 50% batch discount is "
            "not applied to table prices",
        ),
        Preset(
            name="claude-code",
            shape="message",
            description="Claude Code / Claude Agent SDK session transcripts "
            "(~/.claude/projects/<project>/<session>.jsonl, sub-agent files included)",
            source="github.com/oneryalcin/agent-schemas claude-code/*/session.schema.json "
            "(undocumented format; as read by ccusage)",
            fields=MappingProxyType(
                {
                    "timestamp": "timestamp",
                    "conversation_id": "sessionId",
                    # Every line has a type; only user and assistant lines are messages.
                    "role": "type",
                    "model": "message.model",
                    # Anthropic's input_tokens exclude the cache, as botistat's prompt does.
                    "prompt_tokens": "message.usage.input_tokens",
                    "completion_tokens": "message.usage.output_tokens",
                    "cache_read_tokens": "message.usage.cache_read_input_tokens",
                    "cache_write_tokens": "message.usage.cache_creation_input_tokens",
                    # A failed API call is written as a synthetic assistant line: failed, and
                    # an API error, never a reply.
                    "status": "isApiErrorMessage",
                    "error": "isApiErrorMessage",
                    "error_code": "apiErrorStatus",
                    # Written by CLIs before 1.0.9 only; later lines are priced from the table.
                    "cost": "costUSD",
                    # One API response is streamed as one line per content block, the early
                    # ones with partial output_tokens: merged, keeping the largest usage.
                    # The session keeps a gateway's reused ids apart across sessions.
                    "message_id": "message.id",
                    "message_id_2": "requestId",
                    "message_id_3": "sessionId",
                }
            ),
            failed_statuses=("true",),
            roles=MappingProxyType({"user": ("user",), "bot": ("assistant",)}),
            limits="tool results and CLI-injected lines are user messages, so reply times "
            "include tool turns; sub-agent lines share their parent's session",
        ),
        Preset(
            name="litellm",
            shape="exchange",
            description="LiteLLM StandardLoggingPayload (proxy callbacks, bucket logs), one per "
            "call",
            source="https://docs.litellm.ai/docs/proxy/logging_spec",
            fields=MappingProxyType(
                {
                    "timestamp": "startTime",
                    "end_time": "endTime",
                    "conversation_id": "trace_id",
                    "status": "status",
                    "prompt_tokens": "prompt_tokens",
                    "completion_tokens": "completion_tokens",
                    "total_tokens": "total_tokens",
                    "error": "error_str",
                    "error_code": "error_information.error_code",
                    "ip": "requester_ip_address",
                    "bot_id": "metadata.user_api_key_team_alias",
                    "model": "model",
                    "user_id": "end_user",
                    "cost": "response_cost",
                }
            ),
            failed_statuses=("failure",),
            limits="retries and fallbacks of one request are separate exchanges",
        ),
        Preset(
            name="litellm-spendlogs",
            shape="exchange",
            description="LiteLLM_SpendLogs rows (the proxy's spend table, GET /spend/logs), "
            "one per call",
            source="github.com/BerriAI/litellm schema.prisma (LiteLLM_SpendLogs)",
            fields=MappingProxyType(
                {
                    "timestamp": "startTime",
                    "end_time": "endTime",
                    "conversation_id": "session_id",
                    "status": "status",
                    "prompt_tokens": "prompt_tokens",
                    "completion_tokens": "completion_tokens",
                    "total_tokens": "total_tokens",
                    "error": "metadata.error_information.error_message",
                    "error_code": "metadata.error_information.error_code",
                    "ip": "requester_ip_address",
                    "bot_id": "metadata.user_api_key_team_alias",
                    "model": "model",
                    "user_id": "end_user",
                    "cost": "spend",
                }
            ),
            failed_statuses=("failure",),
            limits="a row without a trace id has a session id of its own; in CSV dumps the "
            "metadata column is JSON text, so error details and the team are not read",
        ),
        Preset(
            name="langfuse",
            shape="exchange",
            description="Langfuse observations (public API / JSON Lines export), one per "
            "generation",
            source="https://api.reference.langfuse.com (Observation, ObservationsView)",
            fields=MappingProxyType(
                {
                    "timestamp": "startTime",
                    # Not "latency": seconds in the API, milliseconds in exports, and only
                    # ever endTime - startTime anyway.
                    "end_time": "endTime",
                    "conversation_id": "traceId",
                    "status": "level",
                    "model": "model",
                    "prompt_tokens": "usageDetails.input",
                    "completion_tokens": "usageDetails.output",
                    "total_tokens": "usageDetails.total",
                    "cost": "costDetails.total",
                    "user_id": "userId",
                }
            ),
            failed_statuses=("error",),
            limits="spans and events count as exchanges too: export generations only; the "
            "conversation is the trace (sessions live on traces)",
        ),
        Preset(
            name="nested-messages",
            shape="message",
            description='One record per message with usage nested in "meta" '
            '({"ts", "role", "conversationId", "meta": {"tokensIn", "tokensOut", "channel"}})',
            source="a common app-logger shape",
            fields=MappingProxyType(
                {
                    "timestamp": "ts",
                    "role": "role",
                    "conversation_id": "conversationId",
                    "prompt_tokens": "meta.tokensIn",
                    "completion_tokens": "meta.tokensOut",
                    "channel": "meta.channel",
                }
            ),
        ),
    )
}
#: ``--preset none`` (or ``preset: none``): no preset, and none detected from the logs.
NO_PRESET: Final = "none"


def preset_named(name: str) -> Preset | None:
    return PRESETS.get(name.strip().lower())
