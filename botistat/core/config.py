"""Load and validate the YAML configuration.

Found via ``--config``, then ``./botistat.yaml``, then the user config directory. Validation is
strict: an unknown key or a value of the wrong type is an error naming the key and the file, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botistat.core.errors import ConfigError
from botistat.core.presets import NO_PRESET, PRESETS, SHAPES, Preset, preset_named
from botistat.core.schema import FIELDS, MESSAGE_ID_PARTS, ROLE_BOT, ROLE_USER

CONFIG_FILENAME: Final = "botistat.yaml"
ENV_CONFIG_DIR: Final = "BOTISTAT_CONFIG_DIR"

DEFAULT_ROLES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        ROLE_USER: ("user", "human", "customer"),
        ROLE_BOT: ("bot", "assistant", "ai"),
    }
)
DEFAULT_FAILED_STATUSES: Final = ("failed", "error", "undelivered")
TOP_LEVEL_KEYS: Final = (
    "fields",
    "roles",
    "failed_statuses",
    "timezone",
    "geoip",
    "thresholds",
    "spikes",
    "email",
    "record",
    "preset",
    "sources",
    "prices",
    "engine",
    "scheduler",
    "cache",
)
#: Where a report is computed: in this process, or on a Dask cluster.
ENGINES: Final = ("local", "dask")
PRICE_KEYS: Final = ("input", "output", "cache_read", "cache_write")
SOURCE_KEYS: Final = ("glob", "record", "preset", "fields")
EMAIL_KEYS: Final = (
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "sender",
    "to",
    "subject",
    "name",
    "outbox",
    "timeout",
    "ca_file",
)
SECURITY_MODES: Final = ("starttls", "ssl", "none")
SPIKE_KEYS: Final = (
    "bucket",
    "window",
    "sensitivity",
    "min_ratio",
    "min_tokens",
    "min_cost",
    "cooldown",
)
GEOIP_KEYS: Final = ("database",)
CACHE_KEYS: Final = ("dir", "max_size")


@dataclass(frozen=True)
class CacheConfig:
    """``cache:``: where ``report``, ``check`` and ``email`` keep what parsing gave."""

    dir: Path | None = None
    #: A size such as ``2G`` (read by the command); None: the default cap.
    max_size: str | None = None


@dataclass(frozen=True)
class SpikeConfig:
    """Spike detection settings from the config; None means the command's default."""

    bucket: str | None = None
    window: int | None = None
    sensitivity: float | None = None
    min_ratio: float | None = None
    min_tokens: float | None = None
    min_cost: float | None = None
    cooldown: int | None = None


@dataclass(frozen=True)
class EmailConfig:
    """SMTP settings. The password is never in the file: ``password_env`` names the
    environment variable that holds it."""

    host: str | None = None
    port: int | None = None
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None
    to: tuple[str, ...] = ()
    subject: str | None = None
    name: str | None = None
    outbox: Path | None = None
    timeout: float = 30.0
    ca_file: Path | None = None


@dataclass(frozen=True)
class SourceRule:
    """``sources:`` entry: inputs matching ``glob`` get their own mapping and shape."""

    glob: str
    fields: Mapping[str, str]
    record: str
    failed: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        path = PurePath(name)
        return path.match(self.glob) or fnmatch.fnmatch(name, self.glob)


@dataclass(frozen=True)
class Config:
    """Validated settings. ``fields`` maps every canonical field to the name used in the logs."""

    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(default_fields()))
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_ROLES)
    failed_statuses: tuple[str, ...] = DEFAULT_FAILED_STATUSES
    timezone: str = "UTC"
    #: A MaxMind-format database for IP -> country; None: look further (see botistat.geo).
    geoip_database: Path | None = None
    #: Threshold expressions for ``botistat check`` (parsed there).
    thresholds: tuple[str, ...] = ()
    spikes: SpikeConfig = SpikeConfig()
    email: EmailConfig = EmailConfig()
    #: "message": one record per message; "exchange": one per request/response.
    record: str = "message"
    preset: str | None = None
    #: Per-input settings: the first rule whose glob matches an input applies to it.
    sources: tuple[SourceRule, ...] = ()
    #: Model name or glob -> USD per 1M tokens (input, output, cache_read, cache_write).
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    #: One of :data:`ENGINES`; and the Dask scheduler's address (None: a local cluster).
    engine: str = "local"
    scheduler: str | None = None
    cache: CacheConfig = CacheConfig()
    path: Path | None = None
    #: False when the config (or ``--preset``) says how to read the logs, ``--preset none``
    #: included: then no preset is chosen from the logs' shape.
    auto_preset: bool = True
    #: The input the preset was recognised in, when it was chosen from the logs' shape.
    preset_detected_from: str | None = None

    @property
    def detects_preset(self) -> bool:
        """Whether a preset may be chosen from the logs: nothing says how to read them (a
        Config built in code with its own fields counts as saying so)."""
        return (
            self.auto_preset
            and self.preset is None
            and not self.sources
            and self.record == "message"
            and self.fields == default_fields()
        )

    def with_preset(self, preset: Preset, detected_from: str | None = None) -> Config:
        """These settings read with ``preset``, as if the config had named it."""
        return replace(
            self,
            fields=_fields({}, preset, "fields", preset.name),
            record=preset.shape,
            failed_statuses=tuple(dict.fromkeys(self.failed_statuses + preset.failed_statuses)),
            # Added to the configured words: a config's roles: still count.
            roles=MappingProxyType(
                {
                    role: tuple(dict.fromkeys(words + preset.roles.get(role, ())))
                    for role, words in self.roles.items()
                }
            ),
            preset=preset.name,
            auto_preset=False,
            preset_detected_from=detected_from,
        )

    @property
    def merges_messages(self) -> bool:
        """Records sharing a message id are merged only when a message id is mapped."""
        return "message_id" in self.fields or any(
            "message_id" in rule.fields for rule in self.sources
        )

    def for_source(self, name: str) -> Config:
        """The settings for one input: a matching ``sources:`` rule's mapping and shape."""
        for rule in self.sources:
            if rule.matches(name):
                return replace(
                    self,
                    fields=rule.fields,
                    record=rule.record,
                    failed_statuses=tuple(dict.fromkeys(self.failed_statuses + rule.failed)),
                    sources=(),
                )
        return self

    def role_values(self) -> dict[str, str]:
        """Each raw role value (lower case) mapped to its canonical role."""
        return {value: role for role, values in self.roles.items() for value in values}


def default_config_paths() -> list[Path]:
    """Where a config is looked for when ``--config`` is not given, in order."""
    user_dir = os.environ.get(ENV_CONFIG_DIR)
    if user_dir is None:
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        user_dir = str(Path(xdg) / "botistat")
    return [Path.cwd() / CONFIG_FILENAME, Path(user_dir) / "config.yaml"]


def load_settings(path: Path | None = None, preset: str | None = None) -> Config:
    """The config (see :func:`load_config`); ``--preset`` takes the place of its ``preset:``,
    under its own ``fields:`` and ``record:``."""
    return load_config(path, preset)


def load_config(path: Path | None = None, preset: str | None = None) -> Config:
    """Load the config at ``path``, or the first default location that exists, or defaults;
    ``preset`` (given on the command line) replaces the config's own ``preset:``."""
    if path is None:
        path = next((p for p in default_config_paths() if p.is_file()), None)
        if path is None:
            return parse_config({}, preset_name=preset) if preset else Config()
    elif not path.is_file():
        raise ConfigError("config file not found", str(path), "check the path given to --config")
    return parse_config(_read_yaml(path), path, preset)


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", str(path)) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError("config is not valid YAML", where) from exc


def parse_config(data: Any, path: Path | None = None, preset_name: str | None = None) -> Config:
    """Validate already-parsed YAML data and build a :class:`Config`; ``preset_name`` (from
    ``--preset``) replaces the data's ``preset:``."""
    where = str(path) if path else "config"
    if data is None:
        data = {}
    section = _mapping(data, "the config", where)
    _reject_unknown(section, TOP_LEVEL_KEYS, "", where)

    if preset_name is not None:
        preset = _preset(preset_name, "--preset", "--preset")
    else:
        preset = _preset(section.get("preset"), "preset", where)
    fields = _fields(section.get("fields", {}), preset, "fields", where)
    record = _record(section.get("record"), preset, "record", where)
    # Any of these says how the logs are to be read: no preset is then guessed from them.
    told = preset_name is not None or any(
        key in section for key in ("preset", "fields", "record", "sources")
    )

    roles = dict(DEFAULT_ROLES)
    if preset is not None:  # the format's own words, beside the usual ones
        for role, words in preset.roles.items():
            roles[role] = tuple(dict.fromkeys(roles[role] + words))
    for key, value in _mapping(section.get("roles", {}), "roles", where).items():
        if key not in (ROLE_USER, ROLE_BOT):
            _unknown_key(f"roles.{key}", (ROLE_USER, ROLE_BOT), where)
        roles[key] = _lowered_list(value, f"roles.{key}", where)
    overlap = set(roles[ROLE_USER]) & set(roles[ROLE_BOT])
    if overlap:
        raise ConfigError(f"roles: {', '.join(sorted(overlap))} listed as both user and bot", where)

    failed: tuple[str, ...] = DEFAULT_FAILED_STATUSES
    if preset is not None:
        failed = tuple(dict.fromkeys(failed + preset.failed_statuses))
    if "failed_statuses" in section:
        failed = _lowered_list(section["failed_statuses"], "failed_statuses", where)
    sources = _source_rules(section.get("sources"), where)
    prices = _prices(section.get("prices"), where)

    timezone = section.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise ConfigError("timezone must be a time zone name such as Europe/Berlin", where)
    validate_timezone(timezone, where)

    geoip = _mapping(section.get("geoip", {}), "geoip", where)
    _reject_unknown(geoip, GEOIP_KEYS, "geoip.", where)
    database = None
    if "database" in geoip:
        database = Path(_path_string(geoip["database"], "geoip.database", where)).expanduser()
        if path is not None and not database.is_absolute():
            database = path.parent / database

    thresholds = section.get("thresholds") or []
    if not isinstance(thresholds, list) or not all(isinstance(t, str) for t in thresholds):
        raise ConfigError(
            "thresholds must be a list of expressions such as 'errors.rate < 2%'", where
        )

    spikes = _spike_config(_mapping(section.get("spikes", {}), "spikes", where), where)
    engine = section.get("engine", "local")
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of: {', '.join(ENGINES)}", where)
    scheduler = section.get("scheduler")
    if scheduler is not None and not isinstance(scheduler, str):
        raise ConfigError("scheduler must be an address such as tcp://10.0.0.5:8786", where)
    cache = _cache_config(_mapping(section.get("cache", {}), "cache", where), where, path)
    email = _email_config(_mapping(section.get("email", {}), "email", where), where, path)

    return Config(
        fields=MappingProxyType(fields),
        roles=MappingProxyType(roles),
        failed_statuses=failed,
        timezone=timezone,
        geoip_database=database,
        thresholds=tuple(thresholds),
        spikes=spikes,
        email=email,
        record=record,
        preset=preset.name if preset else None,
        sources=sources,
        prices=prices,
        engine=engine,
        scheduler=scheduler,
        cache=cache,
        path=path,
        auto_preset=not told,
    )


def _preset(value: Any, key: str, where: str) -> Preset | None:
    """The preset named, or None for none (``none`` also turns off choosing one from the
    logs: see :attr:`Config.auto_preset`)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == NO_PRESET):
        return None
    found = preset_named(value) if isinstance(value, str) else None
    if found is None:
        raise ConfigError(
            f"unknown preset {value!r} in {key}",
            where,
            f"presets: {', '.join(PRESETS)}, or {NO_PRESET}",
        )
    return found


def default_fields() -> dict[str, str]:
    """Every canonical field under its own name, except the message id: merging records that
    share an id happens only when the config names the id field."""
    return {name: name for name in FIELDS if name != "message_id"}


def _fields(value: Any, preset: Preset | None, key: str, where: str) -> Mapping[str, str]:
    """Default names, then the preset's mapping, then the config's, key by key."""
    fields = default_fields()
    if preset is not None:
        fields.update(preset.fields)
    for name, path in _mapping(value, key, where).items():
        if name not in FIELDS:
            _unknown_key(f"{key}.{name}", FIELDS, where)
        if name == "message_id":  # the config's id replaces the preset's whole, not part by part
            for part in MESSAGE_ID_PARTS:
                fields.pop(part, None)
        if name == "message_id" and isinstance(path, list):
            fields.update(_message_id_parts(path, f"{key}.{name}", where))
            continue
        fields[name] = _path_string(path, f"{key}.{name}", where)
    _check_nesting(fields, where)
    return MappingProxyType(fields)


def _message_id_parts(paths: list[Any], key: str, where: str) -> dict[str, str]:
    """``message_id: [message.id, requestId]``: the id is those fields together."""
    if not 1 <= len(paths) <= len(MESSAGE_ID_PARTS):
        raise ConfigError(f"{key} takes 1 to {len(MESSAGE_ID_PARTS)} field names", where)
    return {
        part: _path_string(path, f"{key}[{index}]", where)
        for index, (part, path) in enumerate(zip(MESSAGE_ID_PARTS, paths, strict=False))
    }


def _record(value: Any, preset: Preset | None, key: str, where: str) -> str:
    if value is None:
        return preset.shape if preset is not None else "message"
    if value not in SHAPES:
        raise ConfigError(f"{key} must be one of {', '.join(SHAPES)}, not {value!r}", where)
    return str(value)


def _prices(value: Any, where: str) -> Mapping[str, Mapping[str, float]]:
    if value is None:
        return MappingProxyType({})
    table = _mapping(value, "prices", where)
    prices: dict[str, Mapping[str, float]] = {}
    for model, entry in table.items():
        rates = _mapping(entry, f"prices.{model}", where)
        _reject_unknown(rates, PRICE_KEYS, f"prices.{model}.", where)
        for required in ("input", "output"):
            if required not in rates:
                raise ConfigError(f"prices.{model} needs {required} (USD per 1M tokens)", where)
        checked: dict[str, float] = {}
        for key, rate in rates.items():
            if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
                raise ConfigError(f"prices.{model}.{key} must be USD per 1M tokens, >= 0", where)
            checked[key] = float(rate)
        prices[model] = MappingProxyType(checked)
    return MappingProxyType(prices)


def _source_rules(value: Any, where: str) -> tuple[SourceRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError("sources must be a list of {glob, record, preset, fields}", where)
    rules = []
    for index, item in enumerate(value):
        key = f"sources[{index}]"
        entry = _mapping(item, key, where)
        _reject_unknown(entry, SOURCE_KEYS, f"{key}.", where)
        glob_pattern = entry.get("glob")
        if not isinstance(glob_pattern, str) or not glob_pattern.strip():
            raise ConfigError(f"{key}.glob must be a file pattern such as 'gateway/*.jsonl'", where)
        preset = _preset(entry.get("preset"), f"{key}.preset", where)
        rules.append(
            SourceRule(
                glob=glob_pattern.strip(),
                fields=_fields(entry.get("fields", {}), preset, f"{key}.fields", where),
                record=_record(entry.get("record"), preset, f"{key}.record", where),
                failed=preset.failed_statuses if preset else (),
            )
        )
    return tuple(rules)


def _email_config(section: dict[str, Any], where: str, path: Path | None) -> EmailConfig:
    if "password" in section:
        raise ConfigError(
            "email.password is not allowed: the config file is no place for secrets",
            where,
            "put the password in an environment variable and name it in email.password_env",
        )
    _reject_unknown(section, EMAIL_KEYS, "email.", where)

    def text(key: str) -> str | None:
        value = section.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"email.{key} must be a non-empty string", where)
        return value.strip() if isinstance(value, str) else None

    def location(key: str) -> Path | None:
        value = text(key)
        if value is None:
            return None
        resolved = Path(value).expanduser()
        if path is not None and not resolved.is_absolute():
            resolved = path.parent / resolved
        return resolved

    port = section.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or port <= 0):
        raise ConfigError("email.port must be a port number", where)
    security = text("security") or "starttls"
    if security not in SECURITY_MODES:
        raise ConfigError(
            f"email.security must be one of {', '.join(SECURITY_MODES)}, not {security!r}", where
        )
    timeout = section.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError("email.timeout must be a number of seconds", where)
    recipients = section.get("to") or []
    if isinstance(recipients, str):
        recipients = [recipients]
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise ConfigError("email.to must be a list of addresses", where)
    return EmailConfig(
        host=text("host"),
        port=port,
        security=security,
        username=text("username"),
        password_env=text("password_env"),
        sender=text("sender"),
        to=tuple(recipients),
        subject=text("subject"),
        name=text("name"),
        outbox=location("outbox"),
        timeout=float(timeout),
        ca_file=location("ca_file"),
    )


def _cache_config(section: dict[str, Any], where: str, path: Path | None) -> CacheConfig:
    _reject_unknown(section, CACHE_KEYS, "cache.", where)
    directory = None
    if "dir" in section:
        value = section["dir"]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError("cache.dir must be a directory path", where)
        directory = Path(value.strip()).expanduser()
        if path is not None and not directory.is_absolute():
            directory = path.parent / directory
    max_size = section.get("max_size")
    if max_size is not None and not isinstance(max_size, (str, int)):
        raise ConfigError("cache.max_size must be a size such as 2G", where)
    return CacheConfig(directory, None if max_size is None else str(max_size))


def _spike_config(section: dict[str, Any], where: str) -> SpikeConfig:
    _reject_unknown(section, SPIKE_KEYS, "spikes.", where)
    bucket = section.get("bucket")
    if bucket is not None and not isinstance(bucket, str):
        raise ConfigError("spikes.bucket must be a duration such as 5m or 1h", where)
    numbers: dict[str, float | None] = {}
    for key in ("window", "sensitivity", "min_ratio", "min_tokens", "min_cost", "cooldown"):
        value = section.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"spikes.{key} must be a number", where)
        if value is not None and value < 0:
            raise ConfigError(f"spikes.{key} must not be negative", where)
        numbers[key] = value
    for key in ("window", "cooldown"):
        value = numbers[key]
        if value is not None and value != int(value):
            raise ConfigError(f"spikes.{key} must be a whole number", where)
    return SpikeConfig(
        bucket=bucket,
        window=None if numbers["window"] is None else int(numbers["window"]),
        sensitivity=numbers["sensitivity"],
        min_ratio=numbers["min_ratio"],
        min_tokens=numbers["min_tokens"],
        min_cost=numbers["min_cost"],
        cooldown=None if numbers["cooldown"] is None else int(numbers["cooldown"]),
    )


def validate_timezone(name: str, where: str) -> None:
    """Raise a :class:`ConfigError` unless ``name`` is an IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown time zone {name!r}", where, "use an IANA name such as UTC or Europe/Berlin"
        ) from exc


def _mapping(value: Any, key: str, where: str) -> dict[str, Any]:
    if value is None:  # a section whose keys are all commented out
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{key} must be a mapping of names to values", where)
    return value


def _reject_unknown(
    section: Mapping[str, Any], allowed: tuple[str, ...], prefix: str, where: str
) -> None:
    for key in section:
        if key not in allowed:
            _unknown_key(prefix + key, allowed, where)


def _unknown_key(key: str, allowed: tuple[str, ...], where: str) -> None:
    import difflib

    leaf = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(leaf, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(
        f"unknown config key {key!r}", where, f"{hint}valid keys: {', '.join(allowed)}"
    )


def _path_string(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a field name (a non-empty string)", where)
    parts = value.strip().split(".")
    if any(not part for part in parts):
        raise ConfigError(f"{key}: {value!r} is not a valid dotted field path", where)
    return value.strip()


def _check_nesting(fields: Mapping[str, str], where: str) -> None:
    """A JSON path cannot be both a value and an object holding another mapped value."""
    paths = set(fields.values())
    for path in paths:
        parts = path.split(".")
        for depth in range(1, len(parts)):
            prefix = ".".join(parts[:depth])
            if prefix in paths:
                raise ConfigError(
                    f"fields: {prefix!r} is used both as a value and as the parent of {path!r}",
                    where,
                )


def _lowered_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ConfigError(f"{key} must be a list of values", where)
    return tuple(str(v).strip().lower() for v in value)
