"""The gate every finished span goes through, recorded light or by the SDK: one code path.

It keeps the finished spans of each command's trace and, when the command (root) span
ends, hands them once to ``deliver`` (encode, spool, launch: see ``_handoff``). Spans
outside a command, and spans of a discarded command, are dropped. The SDK's span
processor (``processor.ConsentSpanProcessor``) and the light recorder (``_recorder``) both
call ``on_end``; nothing here imports OpenTelemetry.
"""

import _thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    Deliver = Callable[[Sequence[Any], int], None]

#: Spans kept per trace; a command that creates more loses the excess (counted).
MAX_SPANS_PER_TRACE = 512


class TraceGate:
    """Collect a command's spans and deliver them when its root span ends.

    ``deliver(spans, dropped)`` receives the spans (root last) and how many the per-trace
    cap dropped. (Consent was decided before the command recorded anything, and is decided
    again by the exporter before every attempt: see ``_disk.consent``.)
    """

    def __init__(self, deliver: "Deliver") -> None:
        self._deliver = deliver
        self._lock = _thread.allocate_lock()
        self._roots: dict[int, int] = {}  # trace id -> root span id
        self._pending: dict[int, list[Any]] = {}
        self._overflow: dict[int, int] = {}

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

    def on_end(self, span: "Any") -> None:
        """A span ended (an SDK ``ReadableSpan`` or a light one). Never raises."""
        ctx = span.context
        if ctx is None:
            return
        with self._lock:
            root = self._roots.get(ctx.trace_id)
            if root is None:
                return  # not part of a command (or ended after it): not ours to send
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
        self._deliver(spans, overflow)

    def clear(self) -> None:
        with self._lock:
            self._roots.clear()
            self._pending.clear()
            self._overflow.clear()
