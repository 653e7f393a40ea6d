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
    """The last ``limit`` traces of the local file, then those waiting in each destination's
    queue; then, per destination that is not the local file, how many traces were delivered
    there (those are not kept here, so they cannot be shown)."""
    from otel_cli_telemetry._disk.urls import redact_text
    from otel_cli_telemetry._exporter.sinks.file import read_requests

    paths = telemetry._state_paths
    queued = _queued(telemetry, limit)
    pending = [request for _, requests, _ in queued for request in requests]
    sent = read_requests(paths.sink_file, limit=limit)
    if as_json:
        for request in [*sent, *pending]:
            out.write(redact_text(json.dumps(request)) + "\n")  # no URL secret printed
        return 0
    lines = render(sent, label="local", verbose=verbose)
    for name, requests, _ in queued:
        label = "pending" if len(queued) == 1 else f"pending for {name}"
        lines += render(requests, label=label, verbose=verbose)
    remote = [(name, delivered) for name, _, delivered in queued if delivered is not None]
    if not lines and not remote:
        out.write(f"Nothing recorded yet for {telemetry.app_name} in {paths.home}.\n")
        return 0
    for line in lines:
        out.write(redact_text(line) + "\n")
    if remote and not lines:
        out.write(f"Nothing recorded locally or waiting for {telemetry.app_name}.\n")
    for name, delivered in remote:
        out.write(
            f"{name}: {delivered} trace(s) delivered so far; sent traces are not kept on this "
            "machine, so they cannot be shown here.\n"
        )
    return 0


def _queued(telemetry: Telemetry, limit: int) -> list[tuple[str, list[dict[str, Any]], int | None]]:
    """Each destination: its description, the last ``limit`` requests waiting in its queue,
    and how many traces it delivered (None for the local file, whose traces ``show`` reads)."""
    from otel_cli_telemetry._admin.actions import queues_of
    from otel_cli_telemetry._disk import delivery, spool
    from otel_cli_telemetry._disk import destination as destination_mod

    found: list[tuple[str, list[dict[str, Any]], int | None]] = []
    for queue, dest in queues_of(telemetry):  # as recorded, then the app's own
        requests = []
        for entry in spool.entries(queue.spool_dir)[-limit:]:
            try:
                requests.append(spool.read(entry))
            except (ValueError, OSError):
                continue
        delivered: int | None = None
        if dest.kind != destination_mod.FILE:
            delivered = delivery.load(queue.delivery_file).delivered
        found.append((dest.describe(), requests, delivered))
    return found


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
