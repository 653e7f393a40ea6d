"""ConsentSpanProcessor: the only span processor of our private TracerProvider.

A thin adapter: every span the SDK ends goes to the same gate as the light recorder's
(``_gate.TraceGate``), which keeps the command's trace and hands it, once, to the hand-off
when the command span ends. ``on_end`` never raises.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_cli_telemetry._process.gate import MAX_SPANS_PER_TRACE, TraceGate

__all__ = ["MAX_SPANS_PER_TRACE", "ConsentSpanProcessor"]


class ConsentSpanProcessor(SpanProcessor):
    """Feed ended SDK spans to the gate (consent, collection per trace, hand-off)."""

    def __init__(self, gate: TraceGate) -> None:
        self.gate = gate

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self.gate.on_end(span)
        except Exception:  # noqa: BLE001 - a processor must never break the host
            return

    def shutdown(self) -> None:
        self.gate.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
