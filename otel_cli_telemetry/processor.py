"""ConsentSpanProcessor: the only span processor of our private TracerProvider.

It drops everything without consent, gathers the finished spans of the command's
trace, and when the command's root span ends hands them, once, to ``deliver``
(encode to OTLP JSON, spool, start the exporter). ``on_end`` never raises; all it
does besides appending to a list is that one small write, once per command.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

#: Spans kept per trace; a command that creates more loses the excess (counted).
MAX_SPANS_PER_TRACE = 512

Deliver = Callable[[Sequence[ReadableSpan], int], None]


class ConsentSpanProcessor(SpanProcessor):
    """Collect a command's spans and deliver them when its root span ends.

    ``consent`` is asked once per trace (at the root); ``deliver(spans, dropped)``
    receives the spans and the number dropped by the per-trace cap.
    """

    def __init__(self, consent: Callable[[], bool], deliver: Deliver) -> None:
        self._consent = consent
        self._deliver = deliver
        self._lock = threading.Lock()
        self._roots: dict[int, int] = {}  # trace id -> root span id
        self._pending: dict[int, list[ReadableSpan]] = {}
        self._overflow: dict[int, int] = {}
        self.dropped: dict[str, int] = {}

    def register_root(self, trace_id: int, span_id: int) -> None:
        """Mark ``span_id`` as the command span: its end ships the trace."""
        with self._lock:
            self._roots[trace_id] = span_id
            self._pending.setdefault(trace_id, [])

    def discard(self, trace_id: int) -> None:
        """Forget a command's trace: nothing of it will be delivered."""
        with self._lock:
            self._roots.pop(trace_id, None)
            self._pending.pop(trace_id, None)
            self._overflow.pop(trace_id, None)

    def _count(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._on_end(span)
        except Exception:  # noqa: BLE001 - a processor must never break the host
            self._count("processor_error")

    def _on_end(self, span: ReadableSpan) -> None:
        ctx = span.context
        if ctx is None:
            return
        with self._lock:
            root = self._roots.get(ctx.trace_id)
            if root is None:
                # Not part of a command (or ended after the command span): not ours to send.
                self._count("outside_command")
                return
            pending = self._pending[ctx.trace_id]
            if ctx.span_id != root:
                if len(pending) < MAX_SPANS_PER_TRACE:
                    pending.append(span)
                else:
                    self._overflow[ctx.trace_id] = self._overflow.get(ctx.trace_id, 0) + 1
                return
            del self._roots[ctx.trace_id]
            spans = self._pending.pop(ctx.trace_id)
            overflow = self._overflow.pop(ctx.trace_id, 0)
        spans.append(span)
        if overflow:
            self._count("span_limit", overflow)
        if not self._consent():
            self._count("no_consent", len(spans))
            return
        self._deliver(spans, overflow)

    def shutdown(self) -> None:
        with self._lock:
            self._roots.clear()
            self._pending.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
