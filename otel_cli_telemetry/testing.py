"""A test kit for CLI authors. Importable without pytest; the pytest fixtures live in
``otel_cli_telemetry.pytest_plugin``, registered automatically once the package is installed.

- ``capture_spans()``: a context manager capturing, in memory, the spans commands run inside
  it would send. No file is written, no exporter started, nothing sent.
- ``TelemetrySpy``: what the library tried to do (exporter starts, socket connections).

Under pytest every test is isolated by default (see ``pytest_plugin``), and the fixtures
``cli_telemetry`` and ``telemetry_spy`` give what a test captured:

>>> def test_transcribe_is_recorded(cli_telemetry):           # doctest: +SKIP
...     runner.invoke(app, ["transcribe", "a.wav"])
...     [span] = cli_telemetry.commands
...     assert span.name == "assembly transcribe"
...     assert span.attributes["process.exit.code"] == 0
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from otel_cli_telemetry._disk.otlp_read import attributes as _decode
from otel_cli_telemetry._disk.otlp_read import is_command, iter_spans
from otel_cli_telemetry._process.run import _capture

__all__ = ["OPT_OUTS", "CapturedSpan", "CapturedSpans", "TelemetrySpy", "capture_spans"]

#: Variables that turn telemetry off; ``cli_telemetry`` clears them so a test records.
OPT_OUTS = ("DO_NOT_TRACK", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "TRACEPARENT")


@dataclass(frozen=True)
class CapturedSpan:
    """One span as it would have been sent."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, object]
    resource: dict[str, object]
    status_code: int

    @property
    def is_command(self) -> bool:
        return is_command(self.attributes)


@dataclass
class CapturedSpans:
    """Everything captured so far; ``requests`` holds the raw OTLP JSON."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: dict[str, Any]) -> None:
        self.requests.append(request)

    @property
    def spans(self) -> list[CapturedSpan]:
        return [
            CapturedSpan(
                name=str(span.get("name", "")),
                trace_id=str(span.get("traceId", "")),
                span_id=str(span.get("spanId", "")),
                parent_span_id=str(span.get("parentSpanId", "")),
                attributes=_decode(span.get("attributes")),
                resource=resource,
                status_code=int((span.get("status") or {}).get("code", 0)),
            )
            for resource, span in iter_spans(self.requests)
        ]

    @property
    def commands(self) -> list[CapturedSpan]:
        """The command spans only (one per command run)."""
        return [s for s in self.spans if s.is_command]

    def clear(self) -> None:
        self.requests.clear()


@contextlib.contextmanager
def capture_spans() -> Iterator[CapturedSpans]:
    """Capture what commands run inside the block would send (usable without pytest)."""
    captured = CapturedSpans()
    token = _capture.set(captured)
    try:
        yield captured
    finally:
        _capture.reset(token)


@dataclass
class TelemetrySpy:
    """What the library tried to do: exporter starts and socket connections."""

    exporters_started: list[list[str]] = field(default_factory=list)
    connections: list[object] = field(default_factory=list)

    def assert_nothing_happened(self) -> None:
        """No exporter started and no connection opened (the disabled-path promise)."""
        assert self.exporters_started == [], f"exporter started: {self.exporters_started}"
        assert self.connections == [], f"connections opened: {self.connections}"
