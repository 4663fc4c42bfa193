"""Period comparison: every KPI against the period of equal length before it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from botistat.core.model import Metrics

#: Metrics where a rise is bad news; for the rest a rise is neutral.
WORSE_WHEN_HIGHER: Final = (
    "errors.",
    "messages.failed",
    "response_ms.avg",
    "response_ms.p",
    "response_ms.max",
    "tokens.error",
    "countries.unknown",
)
#: The KPIs shown in the comparison tables (JSON has the change of every metric).
HEADLINE: Final = (
    ("messages.total", "Total messages"),
    ("messages.user", "User messages"),
    ("messages.bot_responses", "Bot responses"),
    ("messages.failed", "Failed messages"),
    ("errors.rate", "Error rate"),
    ("response_ms.avg", "Avg reply ms"),
    ("response_ms.p50", "p50 reply ms"),
    ("response_ms.p95", "p95 reply ms"),
    ("tokens.total", "Total tokens"),
    ("tokens.error", "Error tokens"),
)

Tone = Literal["good", "bad", "neutral"]


@dataclass(frozen=True)
class Change:
    metric: str
    current: float | int | None
    previous: float | int | None

    @property
    def absolute(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return float(self.current) - float(self.previous)

    @property
    def percent(self) -> float | None:
        """Relative change in percent; None when the previous value is zero or missing."""
        if self.absolute is None or not self.previous:
            return None
        return self.absolute / abs(float(self.previous)) * 100

    @property
    def tone(self) -> Tone:
        if not self.absolute:
            return "neutral"
        if not self.metric.startswith(WORSE_WHEN_HIGHER):
            return "neutral"
        return "bad" if self.absolute > 0 else "good"

    def arrow(self) -> str:
        if self.absolute is None:
            return ""
        if self.absolute == 0:
            return "="
        return "▲" if self.absolute > 0 else "▼"


def changes(current: Metrics, previous: Metrics) -> list[Change]:
    """The change of every numeric metric, in report order."""
    # Imported here: botistat.render imports this module (the HTML report shows changes).
    from botistat.report.plain import scalar_metrics

    now, before = scalar_metrics(current), scalar_metrics(previous)
    return [Change(metric, now[metric], before.get(metric)) for metric in now]
