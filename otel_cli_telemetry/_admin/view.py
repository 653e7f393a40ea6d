"""``telemetry view``: write one self-contained HTML page of what this installation recorded
and sent (``view_html`` draws it), print where, and open it in a browser when asked.

The page is written atomically, mode 0600, as ``view.html`` in the state directory (or where
``--output`` says); ``reset`` deletes it with the rest.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, TextIO

from otel_cli_telemetry._admin.view_html import Row, page
from otel_cli_telemetry._disk.otlp_read import EXIT_CODE, attributes, is_command, iter_spans

if TYPE_CHECKING:
    from collections.abc import Iterable

    from otel_cli_telemetry.telemetry import Telemetry

#: How many requests of the local file the page reads at most (the newest).
MAX_REQUESTS = 5000


def rows_of(requests: Iterable[dict[str, Any]], where: str) -> list[Row]:
    """The command spans of OTLP/JSON requests; a span it cannot read is left out."""
    rows: list[Row] = []
    for _resource, span in iter_spans(requests):
        try:
            attrs = attributes(span.get("attributes"))
            if not is_command(attrs):
                continue
            start = int(span.get("startTimeUnixNano") or 0)
            duration = attrs.get("cli_telemetry.duration_ms")
            if not isinstance(duration, (int, float)):
                duration = (int(span.get("endTimeUnixNano") or 0) - start) / 1e6
            rows.append(
                Row(
                    start,
                    str(span.get("name", "?")),
                    str(attrs.get("cli_telemetry.outcome", "unknown")),
                    attrs.get(EXIT_CODE, "-"),
                    max(float(duration), 0.0),
                    where,
                )
            )
        except (TypeError, ValueError, OverflowError, AttributeError):
            continue
    return rows


def build(telemetry: Telemetry) -> str:
    """The page for ``telemetry``'s installation, as text."""
    from otel_cli_telemetry._admin.show import _queued
    from otel_cli_telemetry._exporter.sinks.file import read_requests

    paths = telemetry._state_paths
    rows = rows_of(read_requests(paths.sink_file, limit=MAX_REQUESTS), "local file")
    destinations: list[tuple[str, int | None, int]] = []
    for name, requests, delivered in _queued(telemetry, MAX_REQUESTS):
        rows += rows_of(requests, f"waiting for {name}")
        destinations.append((name, delivered, len(requests)))
    return page(
        telemetry.app_name,
        rows,
        destinations,
        telemetry.consent().mode,
        telemetry.disclosure(),
        time.time_ns(),
    )


def do_view(
    telemetry: Telemetry, out: TextIO, *, output: str | None = None, open_it: bool = False
) -> int:
    """Write the page, print its path; with ``open_it``, open it in the default browser."""
    from otel_cli_telemetry._disk import forget, state

    if output:
        target = os.path.abspath(output)
    else:
        state.ensure_dir(telemetry._state_paths.home)
        target = os.path.join(telemetry._state_paths.home, forget.VIEW_FILE)
    state.atomic_write(target, build(telemetry).encode("utf-8"))
    out.write(target + "\n")
    if open_it:
        import pathlib
        import webbrowser

        if not webbrowser.open(pathlib.Path(target).as_uri()):
            out.write("No browser could be opened; open the file above yourself.\n")
    return 0
