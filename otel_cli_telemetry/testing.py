"""A test kit for CLI authors, registered as a pytest plugin (``-p otel_cli_telemetry.testing``
is automatic once the package is installed).

Fixtures:

- ``cli_telemetry``: captures, in memory, the spans your commands would send. No file is
  written, no exporter started, nothing sent. Opt-out variables are cleared for the test
  so that telemetry is on unless the test turns it off.
- ``telemetry_spy``: records any exporter start and any socket connection the library
  would make, to prove that a disabled run does nothing.

>>> def test_transcribe_is_recorded(cli_telemetry):           # doctest: +SKIP
...     runner.invoke(app, ["transcribe", "a.wav"])
...     [span] = cli_telemetry.commands
...     assert span.name == "assembly transcribe"
...     assert span.attributes["process.exit.code"] == 0
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from otel_cli_telemetry._admin.show import attributes as _decode
from otel_cli_telemetry._admin.show import iter_spans
from otel_cli_telemetry._process import launcher
from otel_cli_telemetry._process.run import _capture

__all__ = ["CapturedSpan", "CapturedSpans", "TelemetrySpy", "capture_spans"]

_OPT_OUTS = ("DO_NOT_TRACK", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "TRACEPARENT")


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
        return "process.exit.code" in self.attributes


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


@pytest.fixture
def cli_telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedSpans]:
    """Spans your commands would send, captured in memory; nothing leaves the test."""
    for name in _OPT_OUTS:
        monkeypatch.delenv(name, raising=False)
    with capture_spans() as captured:
        yield captured


@dataclass
class TelemetrySpy:
    """What the library tried to do: exporter starts and socket connections."""

    exporters_started: list[list[str]] = field(default_factory=list)
    connections: list[object] = field(default_factory=list)

    def assert_nothing_happened(self) -> None:
        """No exporter started and no connection opened (the disabled-path promise)."""
        assert self.exporters_started == [], f"exporter started: {self.exporters_started}"
        assert self.connections == [], f"connections opened: {self.connections}"


@pytest.fixture
def telemetry_spy(monkeypatch: pytest.MonkeyPatch) -> TelemetrySpy:
    """Record (and block) exporter starts and socket connections during the test."""
    spy = TelemetrySpy()

    def fake_start(paths: Any, env: Any, *, spawn: Any = None) -> int | None:
        spy.exporters_started.append(launcher.argv())
        return None

    real_connect = socket.socket.connect

    def recording_connect(self: socket.socket, address: Any) -> None:
        spy.connections.append(address)
        real_connect(self, address)

    monkeypatch.setattr(launcher, "start", fake_start)
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    return spy
