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
    from collections.abc import Callable, Mapping, Sequence
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
        self._required: dict[int, dict[str, Any]] = {}  # span id -> attributes it must carry

    def require(self, trace_id: int, span_id: int, values: "Mapping[str, Any]") -> None:
        """Attributes the span ``span_id`` must carry when delivered, whatever an attribute
        count limit evicted (the CLI span's required ones: ``WithRequired``). Called just
        before the span ends; kept only for a trace the gate will deliver (an unsampled
        span never reaches ``on_end``)."""
        with self._lock:
            if trace_id in self._roots:
                self._required[span_id] = dict(values)

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
            required = self._required.pop(ctx.span_id, None) if self._required else None
            root = self._roots.get(ctx.trace_id)
            if root is None:
                return  # not part of a command (or ended after it): not ours to send
            if required:
                span = WithRequired.wrap(span, required)
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
            self._required.clear()


class WithRequired:
    """A finished span, seen with the required attributes an attribute count limit
    evicted put back (and no longer counted as dropped). The limit then applies to the
    other attributes: a span may carry up to 4 more than the limit (``process.executable
    .name``, ``process.pid``, ``process.exit.code``, ``error.type``)."""

    __slots__ = ("_span", "attributes", "dropped_attributes")

    def __init__(self, span: "Any", attributes: "dict[str, Any]", dropped: int) -> None:
        self._span = span
        self.attributes = attributes
        self.dropped_attributes = dropped

    @classmethod
    def wrap(cls, span: "Any", required: "Mapping[str, Any]") -> "Any":
        """``span`` itself when it kept every required attribute."""
        kept = span.attributes or {}
        missing = {k: v for k, v in required.items() if k not in kept}
        if not missing:
            return span
        dropped = max(0, (span.dropped_attributes or 0) - len(missing))
        return cls(span, {**missing, **kept}, dropped)

    def __getattr__(self, name: str) -> "Any":
        return getattr(self._span, name)
