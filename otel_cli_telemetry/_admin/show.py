"""Readable rendering of what was (or would be) sent, for ``show``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from typing import Any

# Shown as columns, so left out of the attribute listing.
_COLUMNS = frozenset({"process.exit.code", "cli_telemetry.outcome", "cli_telemetry.duration_ms"})


def _value(any_value: dict[str, Any]) -> object:
    for key in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if key in any_value:
            return any_value[key]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    if "arrayValue" in any_value:
        return [_value(v) for v in any_value["arrayValue"].get("values", [])]
    if "kvlistValue" in any_value:
        return {kv["key"]: _value(kv["value"]) for kv in any_value["kvlistValue"].get("values", [])}
    return None


def attributes(key_values: Iterable[dict[str, Any]] | None) -> dict[str, object]:
    """OTLP/JSON key/values as a dict; entries that are not well-formed are left out."""
    result: dict[str, object] = {}
    for kv in key_values or []:
        try:
            result[str(kv["key"])] = _value(kv["value"])
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            continue
    return result


def iter_spans(
    requests: Iterable[dict[str, Any]],
) -> Iterator[tuple[dict[str, object], dict[str, Any]]]:
    """(resource attributes, span) pairs from OTLP JSON requests."""
    for request in requests:
        for resource_spans in request.get("resourceSpans") or []:
            resource = attributes((resource_spans.get("resource") or {}).get("attributes"))
            for scope_spans in resource_spans.get("scopeSpans") or []:
                for span in scope_spans.get("spans") or []:
                    yield resource, span


def render(requests: Iterable[dict[str, Any]], *, label: str, verbose: bool = False) -> list[str]:
    lines: list[str] = []
    for resource, span in iter_spans(requests):
        try:
            lines.extend(_render_span(resource, span, label, verbose))
        except Exception:  # noqa: BLE001 - one span it cannot read never hides the others
            lines.append(f"[{label}] (a span that cannot be shown)")
    return lines


def _render_span(
    resource: dict[str, object], span: dict[str, Any], label: str, verbose: bool
) -> list[str]:
    lines: list[str] = []
    attrs = attributes(span.get("attributes"))
    start_ns = int(span.get("startTimeUnixNano") or 0)
    when = datetime.datetime.fromtimestamp(start_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")
    child = " (child)" if span.get("parentSpanId") and "process.exit.code" not in attrs else ""
    duration = attrs.get("cli_telemetry.duration_ms")
    if duration is None:
        duration = (int(span.get("endTimeUnixNano") or 0) - start_ns) / 1e6
    lines.append(
        f"[{label}] {when}  {span.get('name', '?')}{child}  "
        f"outcome={attrs.get('cli_telemetry.outcome', '-')}  "
        f"exit={attrs.get('process.exit.code', '-')}  duration={float(duration):.1f}ms  "  # type: ignore[arg-type]
        f"trace={span.get('traceId', '')}"
    )
    if verbose:
        for key, value in sorted(attrs.items()):
            if key not in _COLUMNS:
                lines.append(f"    {key} = {value!r}")
        for key, value in sorted(resource.items()) if not child else ():
            lines.append(f"    resource {key} = {value!r}")
    return lines
