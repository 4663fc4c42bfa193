"""botistat: analyze chatbot and LLM conversation logs.

The library API (no terminal, nothing printed)::

    import botistat

    report = botistat.build_report(["logs/"], "botistat.yaml", since="7d", by="bot_id")
    print(report.metrics.messages.total, report.metrics.response_ms.p95)
    document = botistat.report_document(report)   # the documented JSON shape

Heavy modules are imported on first use, so ``import botistat`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from botistat.api import build_report
    from botistat.core.config import Config, load_config
    from botistat.core.errors import BotistatError
    from botistat.core.model import Report
    from botistat.report.document import report_document

#: Public name -> the module that defines it.
_EXPORTS = {
    "build_report": "botistat.api",
    "Config": "botistat.core.config",
    "load_config": "botistat.core.config",
    "BotistatError": "botistat.core.errors",
    "Report": "botistat.core.model",
    "report_document": "botistat.report.document",
}

__all__ = ["BotistatError", "Config", "Report", "__version__", "build_report", "load_config"]
__all__ += ["report_document"]


def __getattr__(name: str) -> Any:
    import importlib

    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'botistat' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
