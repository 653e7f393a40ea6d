"""Readable rendering of what was (or would be) sent, for ``show``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from otel_cli_telemetry._disk.otlp_read import EXIT_CODE, attributes, is_command, iter_spans

__all__ = ["render"]

# Shown as columns, so left out of the attribute listing.
_COLUMNS = frozenset({EXIT_CODE, "cli_telemetry.outcome", "cli_telemetry.duration_ms"})


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
    child = " (child)" if span.get("parentSpanId") and not is_command(attrs) else ""
    duration = attrs.get("cli_telemetry.duration_ms")
    if duration is None:
        duration = (int(span.get("endTimeUnixNano") or 0) - start_ns) / 1e6
    lines.append(
        f"[{label}] {when}  {span.get('name', '?')}{child}  "
        f"outcome={attrs.get('cli_telemetry.outcome', '-')}  "
        f"exit={attrs.get(EXIT_CODE, '-')}  duration={float(duration):.1f}ms  "  # type: ignore[arg-type]
        f"trace={span.get('traceId', '')}"
    )
    if verbose:
        for key, value in sorted(attrs.items()):
            if key not in _COLUMNS:
                lines.append(f"    {key} = {value!r}")
        for key, value in sorted(resource.items()) if not child else ():
            lines.append(f"    resource {key} = {value!r}")
    return lines
