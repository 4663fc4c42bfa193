"""``botistat config``: the settings in effect, as a config file, and where they came from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botistat.cli.common import user_errors, write_output
from botistat.cli.options import ConfigOption, PresetOption

if TYPE_CHECKING:
    from botistat.core.config import Config, EmailConfig, SpikeConfig


def show_config(config: ConfigOption = None, preset: PresetOption = None) -> None:
    """Print the settings every command would use here, as YAML: the defaults, the config
    file, the preset and the sources: rules, all applied.

    The first lines say which config file was read, or that none was found and where it was
    looked for. Unset keys are shown as comments with what applies instead. The SMTP password
    is never shown: only the name of the environment variable that holds it. The output is a
    config file itself: botistat config > botistat.yaml.
    """
    with user_errors():
        from botistat.core.config import default_config_paths, load_settings

        settings = load_settings(config, preset)
        lines = [f"# {origin(settings, default_config_paths())}"]
        if preset is not None:
            lines.append(f"# --preset {preset} replaces the config's preset:")
        if settings.detects_preset:
            lines.append(
                "# no preset: a known log format is detected from the first records of the "
                "logs (--preset none turns this off)"
            )
        lines += config_lines(settings)
        write_output("\n".join(lines) + "\n", None)


def origin(settings: Config, looked_at: list[Path]) -> str:
    if settings.path is not None:
        return f"from {settings.path.absolute()}"
    places = ", ".join(str(path) for path in looked_at)
    return f"defaults, no config file found (looked at {places})"


def config_lines(settings: Config) -> list[str]:
    """``settings`` as the lines of a config file, keys in the order config.example.yaml
    has them."""
    lines = [*_entry("fields", field_mapping(settings.fields))]
    lines += _entry("roles", dict(settings.roles))
    lines += _entry("failed_statuses", list(settings.failed_statuses))
    lines += _entry("timezone", settings.timezone)
    database = settings.geoip_database
    geoip = (
        _entry("database", str(database))
        if database is not None
        else [
            "# database: not set: $BOTISTAT_GEOIP_DB, then /usr/share/GeoIP, "
            "/var/lib/GeoIP, /usr/local/share/GeoIP, else the offline registry data"
        ]
    )
    lines += ["geoip:", *_indented(geoip)]
    lines += _entry("thresholds", list(settings.thresholds))
    lines += ["spikes:", *_indented(spike_lines(settings.spikes))]
    lines += ["email:", *_indented(email_lines(settings.email))]
    lines += _entry("record", settings.record)
    lines += _entry("preset", settings.preset or "none") if not settings.detects_preset else []
    lines += _entry(
        "sources",
        [
            {"glob": rule.glob, "record": rule.record, "fields": field_mapping(rule.fields)}
            for rule in settings.sources
        ],
    )
    lines += _entry("prices", {model: dict(rates) for model, rates in settings.prices.items()})
    cache = settings.cache
    lines += [
        "cache:",
        *_indented(
            _entry("dir", str(cache.dir))
            if cache.dir is not None
            else ["# dir: not set: report, check and email parse every input (--cache DIR)"]
        ),
        *_indented(
            _entry("max_size", cache.max_size)
            if cache.max_size
            else _entry("max_size", "4G", "default")
        ),
    ]
    return lines


def field_mapping(fields: Mapping[str, str]) -> dict[str, Any]:
    """The ``fields:`` of a config: the parts of a composite message id as one list."""
    from botistat.core.schema import MESSAGE_ID_PARTS

    shown: dict[str, Any] = {
        name: path for name, path in fields.items() if name not in MESSAGE_ID_PARTS
    }
    parts = [fields[part] for part in MESSAGE_ID_PARTS if part in fields]
    if parts:
        shown["message_id"] = parts if len(parts) > 1 else parts[0]
    return shown


def spike_lines(spikes: SpikeConfig) -> list[str]:
    from botistat.report.options import SpikeOptions
    from botistat.watch.monitor import MonitorSettings

    report, watch = SpikeOptions(), MonitorSettings()
    defaults: dict[str, float] = {
        "window": report.window,
        "sensitivity": report.sensitivity,
        "min_ratio": report.min_ratio,
        "min_tokens": report.min_tokens,
        "min_cost": watch.min_cost,
        "cooldown": watch.cooldown,
    }
    lines = (
        _entry("bucket", spikes.bucket)
        if spikes.bucket
        else ["# bucket: not set: 1h for report, 5m for watch"]
    )
    for key, default in defaults.items():
        value = getattr(spikes, key)
        lines += _entry(
            key, default if value is None else value, "default" if value is None else ""
        )
    return lines


def email_lines(mail: EmailConfig) -> list[str]:
    """The ``email:`` section; the password only by the name of its variable."""
    from botistat.core.config import EMAIL_KEYS
    from botistat.mail.delivery import DEFAULT_PORTS, DEFAULT_SUBJECT
    from botistat.mail.outbox import default_outbox

    defaults: dict[str, tuple[Any, str]] = {
        "host": (None, "not set: needed to send"),
        "port": (DEFAULT_PORTS[mail.security], f"default for {mail.security}"),
        "username": (None, "not set: no login"),
        "password_env": (None, "not set: no password"),
        "sender": (None, "not set: the username, else botistat@localhost"),
        "subject": (DEFAULT_SUBJECT, "default"),
        "name": (None, "not set: the subject names the period"),
        "outbox": (str(default_outbox()), "default"),
        "ca_file": (None, "not set: the system's CAs"),
    }
    lines: list[str] = []
    for key in EMAIL_KEYS:
        lines += _email_entry(mail, key, defaults)
    return lines


def _email_entry(mail: EmailConfig, key: str, defaults: dict[str, tuple[Any, str]]) -> list[str]:
    value = getattr(mail, key)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        value = list(value)
    if key == "password_env" and value:
        where = "set" if os.environ.get(value) else "NOT set"
        return _entry(key, value, f"{where} in this environment; the password is never shown")
    if value is not None:
        return _entry(key, value)
    default, note = defaults[key]
    if default is None:
        return [f"# {key}: {note}"]
    return _entry(key, default, note)


def _entry(key: str, value: Any, note: str = "") -> list[str]:
    """``key: value`` in YAML, with ``# note`` after it: a mapping as a block, a list of
    plain values on one line."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, dict) and value:
        nested = [line for name, item in value.items() for line in _entry(name, item)]
        return [f"{_yaml(key, flow=True)[0]}:", *_indented(nested)]
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        lines = _yaml({key: value}, flow=False)
    elif isinstance(value, list | dict):
        lines = [_yaml({key: value}, flow=True)[0][1:-1]]  # {key: [a, b]} without its braces
    else:
        lines = _yaml({key: value}, flow=False)
    if note:
        lines[0] += f"  # {note}"
    return lines


def _yaml(data: Any, *, flow: bool) -> list[str]:
    import yaml

    text = yaml.safe_dump(
        data, sort_keys=False, default_flow_style=flow, allow_unicode=True, width=1 << 16
    )
    return text.rstrip("\n").splitlines()


def _indented(lines: list[str]) -> list[str]:
    return [f"  {line}" for line in lines]
