"""The command span, recorded with the standard library until the command asks for the SDK.

A command that makes no child span never imports OpenTelemetry: its span is a
``LightSpan`` (ids from ``os.urandom``, times from ``time.time_ns``) that goes through the
same gate (``_gate``) and the same encoder (``otlp_json``) as SDK spans. The first time the
command needs the SDK (``telemetry.tracer``, ``install_global_tracer_provider``), every open
command span continues as a real SDK span with the same trace id, span id and start time
(``pipeline.Pipeline.adopt``), so the trace stays whole.

Both kinds quack alike for the encoder: ``context``, ``parent``, ``kind``, ``status``,
``resource``, ``instrumentation_scope`` and the rest of ``ReadableSpan``'s fields it reads.
"""

import os
import time

from otel_cli_telemetry._process import attributes
from otel_cli_telemetry._process.gate import TraceGate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from otel_cli_telemetry._process import command
    from otel_cli_telemetry._process.handoff import Handoff
    from otel_cli_telemetry._process.sdk import Pipeline

#: The SDK's limit on attributes per span, kept the same here.
MAX_ATTRIBUTES = 128
#: W3C trace flags: sampled (every command is recorded, the SDK's ALWAYS_ON) and, from
#: trace context level 2, "the trace id is random" (ours are; a parent's bit is inherited),
#: as the SDK sets them.
SAMPLED = 0x01
RANDOM_TRACE_ID = 0x02
_INTERNAL = 0  # SpanKind.INTERNAL
_UNSET, _ERROR = 0, 2  # StatusCode


class _Value:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


class _Status:
    __slots__ = ("description", "status_code")

    def __init__(self, code: int = _UNSET, description: "str | None" = None) -> None:
        self.status_code = _Value(code)
        self.description = description


class SpanIds:
    """What ``SpanContext`` carries: ids, flags, trace state (a W3C header string)."""

    __slots__ = ("is_remote", "span_id", "trace_flags", "trace_id", "trace_state")

    def __init__(
        self,
        trace_id: int,
        span_id: int,
        trace_flags: int = SAMPLED | RANDOM_TRACE_ID,
        trace_state: "str | None" = None,
        is_remote: bool = False,
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_flags = trace_flags
        self.trace_state = trace_state
        self.is_remote = is_remote


class _Scope:
    __slots__ = ("name", "version")

    def __init__(self) -> None:
        self.name = attributes.SCOPE_NAME
        self.version = attributes.SCOPE_VERSION


class _Resource:
    __slots__ = ("attributes",)

    def __init__(self, attrs: "dict[str, Any]") -> None:
        self.attributes = attrs


class LightSpan:
    """A finished or running command span with the fields the encoder reads."""

    kind = _Value(_INTERNAL)
    events = ()
    links = ()

    def __init__(
        self,
        name: str,
        context: SpanIds,
        parent: "SpanIds | None",
        attrs: "dict[str, Any]",
        resource: _Resource,
    ) -> None:
        self.name = name
        self.context = context
        self.parent = parent
        self.attributes = attrs
        self.dropped_attributes = 0
        self.resource = resource
        self.instrumentation_scope = _Scope()
        self.status = _Status()
        self.start_time = time.time_ns()
        self.end_time: int | None = None

    def set_attributes(self, values: "Mapping[str, Any]") -> None:
        for key, value in values.items():
            if key in self.attributes or len(self.attributes) < MAX_ATTRIBUTES:
                self.attributes[key] = value
            else:
                self.dropped_attributes += 1


def _random_id(nbytes: int) -> int:
    while True:
        value = int.from_bytes(os.urandom(nbytes), "big")
        if value:
            return value


def remote_parent(env: "Mapping[str, str]") -> "SpanIds | None":
    """The caller's span from ``TRACEPARENT``/``TRACESTATE`` (spec env carriers), parsed
    with the W3C propagator's rules; None when unset or invalid (never fatal)."""
    from otel_cli_telemetry._process import config

    header = config.get(env, config.TRACEPARENT)
    if header is None or len(header) > 512:
        return None
    import re  # only when a caller passed a trace context

    match = re.fullmatch(
        r"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:(-.*)|[ \t]*)", header
    )
    if not match:
        config.warn_once(config.TRACEPARENT, "invalid value ignored")
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if trace_id == "0" * 32 or span_id == "0" * 16 or version == "ff" or (version == "00" and rest):
        config.warn_once(config.TRACEPARENT, "invalid value ignored")
        return None
    return SpanIds(
        int(trace_id, 16),
        int(span_id, 16),
        int(flags, 16),
        _trace_state(config.get(env, config.TRACESTATE)),
        is_remote=True,
    )


_KEY = r"[a-z][_0-9a-z\-\*\/]{0,255}|[a-z0-9][_0-9a-z\-\*\/]{0,240}@[a-z][_0-9a-z\-\*\/]{0,13}"
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"


def _trace_state(header: "str | None") -> "str | None":
    """``TRACESTATE`` as the W3C propagator keeps it: all members or, if one is invalid
    or a key repeats, none; at most 32 members; re-joined without blanks."""
    if header is None or len(header) > 8192:
        return None
    import re

    member = re.compile(f"({_KEY})=({_VALUE})")
    pairs: dict[str, str] = {}
    for raw in header.split(","):
        raw = raw.strip(" \t")
        if not raw:
            continue
        found = member.fullmatch(raw)
        if not found or found.group(1) in pairs:
            return None
        pairs[found.group(1)] = found.group(2)
    if len(pairs) > 32:
        return None
    return ",".join(f"{k}={v}" for k, v in pairs.items()) or None


class CommandSpan:
    """The live command span: light until the command asks for the SDK, then an SDK span
    with the same ids (``upgrade``). Only the process that started it ends it: after a host
    ``os.fork()`` the child running on through the ``with`` block delivers nothing."""

    def __init__(self, recorder: "Recorder", display: str, light: "LightSpan | None") -> None:
        self.recorder = recorder
        self.display = display  # the service name, prefixed to command names
        self.light = light
        self.sdk: Any = None
        self.token: object = None
        self.started_perf = time.perf_counter_ns()
        self.pid = os.getpid()

    @property
    def ids(self) -> SpanIds:
        if self.light is not None:
            return self.light.context
        ctx = self.sdk.get_span_context()
        return SpanIds(ctx.trace_id, ctx.span_id, int(ctx.trace_flags))

    def set_attributes(self, values: "Mapping[str, Any]") -> None:
        if self.light is not None:
            self.light.set_attributes(values)
        else:
            self.sdk.set_attributes(dict(values))

    def rename(self, name: str) -> None:
        full = f"{self.display} {name}".strip()
        if self.light is not None:
            self.light.name = full
        else:
            self.sdk.update_name(full)

    def discard(self) -> None:
        """This run is not to be recorded (e.g. the ``telemetry`` consent commands)."""
        self.recorder.gate.discard(self.ids.trace_id)

    def finish(self, outcome: "command.Exit", extra: "Mapping[str, Any] | None" = None) -> None:
        self.recorder.closed(self)
        if os.getpid() != self.pid:
            if self.sdk is not None:
                self.recorder.pipeline_detach(self.token)
            return
        from otel_cli_telemetry._process import command

        values: dict[str, Any] = {
            "process.exit.code": outcome.code,
            attributes.OUTCOME: outcome.outcome,
            attributes.DURATION_MS: round((time.perf_counter_ns() - self.started_perf) / 1e6, 3),
        }
        if extra:
            values.update(extra)
        failed = outcome.code != 0
        if failed:
            values["error.type"] = outcome.error_type or command.OTHER
        if self.light is None:
            self.recorder.pipeline_finish(self, values, outcome.outcome if failed else None)
            return
        span = self.light
        span.set_attributes(values)
        if failed:
            # The description stays generic: exception messages can hold secrets.
            span.status = _Status(_ERROR, outcome.outcome)
        span.end_time = time.time_ns()
        self.recorder.gate.on_end(span)


class Recorder:
    """Starts command spans for one hand-off; owns the gate both kinds of span end in."""

    def __init__(self, handoff: "Handoff") -> None:
        self.handoff = handoff
        self.gate = TraceGate(handoff.deliver)
        self.pipeline: Pipeline | None = None
        self._open: list[CommandSpan] = []
        self._resource: _Resource | None = None

    def start(self, name: str, *, root: bool, extra: "Mapping[str, Any] | None") -> CommandSpan:
        opts = self.handoff.options
        attrs: dict[str, Any] = {
            "process.executable.name": attributes.executable_name(opts.service_name),
            "process.pid": os.getpid(),
        }
        if extra:
            cleaned, refused = attributes.clean_user_attributes(extra)
            attrs.update(cleaned)
            if refused:
                self.handoff.counters.count("invalid_attribute", refused)
        full = f"{opts.service_name} {name}".strip()
        if self.pipeline is not None:
            span = self.pipeline.start(self, full, root=root, attrs=attrs)
        else:
            span = CommandSpan(self, opts.service_name, self._light(full, root, attrs))
        if root:
            ids = span.ids
            self.gate.register_root(ids.trace_id, ids.span_id)
        self._open.append(span)
        return span

    def _light(self, name: str, root: bool, attrs: "dict[str, Any]") -> LightSpan:
        if self._resource is None:
            self._resource = _Resource(self.handoff.resource)
        parent = remote_parent(self.handoff.options.env) if root else None
        if not root and self._open:
            parent = self._open[-1].ids  # a nested command: a child of the enclosing one
        if parent is not None:
            flags = SAMPLED | (parent.trace_flags & RANDOM_TRACE_ID)
            ids = SpanIds(parent.trace_id, _random_id(8), flags, parent.trace_state)
        else:
            ids = SpanIds(_random_id(16), _random_id(8))
        return LightSpan(name, ids, parent, attrs, self._resource)

    def closed(self, span: CommandSpan) -> None:
        if span in self._open:
            self._open.remove(span)

    def sdk(self) -> "Pipeline":
        """The OpenTelemetry SDK side, built on first use; every open command span moves to
        it (outermost first) so that spans the command now makes are their children."""
        if self.pipeline is None:
            from otel_cli_telemetry._process.sdk import Pipeline

            self.pipeline = Pipeline(self)
            for span in self._open:
                if span.light is not None:
                    self.pipeline.adopt(span)
        return self.pipeline

    def pipeline_finish(
        self, span: CommandSpan, values: "dict[str, Any]", error: "str | None"
    ) -> None:
        assert self.pipeline is not None
        self.pipeline.finish(span, values, error)

    def pipeline_detach(self, token: object) -> None:
        if self.pipeline is not None:
            self.pipeline.detach(token)

    def traceparent(self) -> "tuple[str, str | None] | None":
        """``TRACEPARENT``/``TRACESTATE`` for a subprocess, from the innermost open command
        span, without the SDK; None once the SDK runs (then the current span decides)."""
        if self.pipeline is not None or not self._open:
            return None
        span = self._open[-1].light
        if span is None:
            return None
        ids = span.context
        return (
            f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags & 0xFF:02x}",
            ids.trace_state,
        )
