"""Ready mappings for widely used log formats, each built from the format's published docs.

A preset is a field mapping plus the record shape (one record per message, or one per
request/response exchange) and any status words the format uses for a failure. ``fields:`` in
the config still wins over a preset, key by key.
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
        ),
        Preset(
            name="litellm",
            shape="exchange",
            description="LiteLLM StandardLoggingPayload (proxy logging / spend logs), one per call",
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
        ),
        Preset(
            name="langfuse",
            shape="exchange",
            description="Langfuse observations (public API / SDK export), one per generation",
            source="https://api.reference.langfuse.com (Observation, ObservationsView)",
            fields=MappingProxyType(
                {
                    "timestamp": "startTime",
                    "end_time": "endTime",
                    "latency_s": "latency",
                    "conversation_id": "traceId",
                    "status": "level",
                    "model": "model",
                    "prompt_tokens": "usageDetails.input",
                    "completion_tokens": "usageDetails.output",
                    "total_tokens": "usageDetails.total",
                }
            ),
            failed_statuses=("error",),
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


def preset_named(name: str) -> Preset | None:
    return PRESETS.get(name.strip().lower())
