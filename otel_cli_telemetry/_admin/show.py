"""``show``: what was recorded locally or waits to be sent, rendered readably or as JSON."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from otel_cli_telemetry._disk.otlp_read import EXIT_CODE, attributes, is_command, iter_spans

if TYPE_CHECKING:
    from otel_cli_telemetry.telemetry import Telemetry

__all__ = ["do_show", "render"]

# Shown as columns, so left out of the attribute listing.
_COLUMNS = frozenset({EXIT_CODE, "cli_telemetry.outcome", "cli_telemetry.duration_ms"})


def do_show(
    telemetry: Telemetry,
    out: TextIO,
    *,
    limit: int = 20,
    as_json: bool = False,
    verbose: bool = False,
) -> int:
    """The last ``limit`` traces of the local file, then those waiting in the spool."""
    from otel_cli_telemetry._disk import spool
    from otel_cli_telemetry._exporter.sinks.file import read_requests

    paths = telemetry._state_paths
    pending = []
    for entry in spool.entries(paths.spool_dir)[-limit:]:
        try:
            pending.append(spool.read(entry))
        except (ValueError, OSError):
            continue
    sent = read_requests(paths.sink_file, limit=limit)
    if as_json:
        for request in sent:
            out.write(json.dumps(request) + "\n")
        for request in pending:
            out.write(json.dumps(request) + "\n")
        return 0
    lines = render(sent, label="local", verbose=verbose) + render(
        pending, label="pending", verbose=verbose
    )
    if not lines:
        out.write(
            f"Nothing recorded yet for {telemetry.app_name} in {paths.home}.\n"
            "(With an OTLP endpoint configured, delivered spans are at the endpoint, not here.)\n"
        )
        return 0
    for line in lines:
        out.write(line + "\n")
    return 0


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
