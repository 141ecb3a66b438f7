"""Requests cut by the platform's ``max_duration``: the limit and where it came from (pure).

The serverless platform answers a request that runs past ``[target.serverless]
max_duration`` 504 of kind ``max_duration`` and kills its instance, as AWS Lambda does at a
function's timeout. The finding names the limit and its origin — a preset's documented
default (``aws-lambda``: 3 s) or the scenario's own key — so that a user knows which setting
to raise, or that the requests are too slow for the platform they target. On a saturated
machine the requests ran slower than they would on an idle core: the finding says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.units import format_count, format_value


def limit_origin(config: Mapping[str, Any]) -> tuple[float, str] | None:
    """``(max_duration in s, where it came from)`` of a variant's recorded target config
    (the manifest's ``config``); None when it has no serverless limit."""
    serverless = config.get("serverless")
    if not isinstance(serverless, Mapping):
        return None
    limit = float(serverless.get("max_duration_s") or 0.0)
    if limit <= 0:
        return None
    preset = str(serverless.get("preset") or "")
    overrides = serverless.get("overrides") or ()
    if preset and "max_duration" not in overrides:
        return limit, f"the {preset} preset's default"
    return limit, "[target.serverless] max_duration"


def cut_sentence(name: str, cut: int, config: Mapping[str, Any], saturated: bool) -> str | None:
    """``N requests were cut at max_duration = 3 s (the aws-lambda preset's default) ...``;
    None when no request was cut."""
    if cut <= 0:
        return None
    origin = limit_origin(config)
    limit = (f" = {format_value(origin[0], 's')} ({origin[1]})" if origin is not None else "")
    text = (f"{name}: {format_count(cut)} requests were cut at the platform's max_duration"
            f"{limit} and answered 504; the platform killed their instances (the gateway's "
            "log names each). Raise max_duration in [target.serverless] if the platform you "
            "target allows it, or make those requests shorter")
    if saturated:
        text += ("; this machine's CPU was saturated, so they ran slower here than on an idle "
                 "core")
    return text
