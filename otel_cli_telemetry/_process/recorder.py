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

from otel_cli_telemetry._process import attributes, config, light
from otel_cli_telemetry._process.gate import TraceGate
from otel_cli_telemetry._process.light import (
    ERROR,
    RANDOM_TRACE_ID,
    SAMPLED,
    LightSpan,
    Resource,
    SpanIds,
    Status,
    random_id,
    truncate,
)

#: ``command.SUCCESS``: a command that ended well needs nothing more of ``command``.
SUCCESS = "success"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from otel_cli_telemetry._process import command
    from otel_cli_telemetry._process.config import Limits
    from otel_cli_telemetry._process.handoff import Handoff
    from otel_cli_telemetry._process.sdk import Pipeline


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

    def finish(
        self, outcome: "command.ExitStatus | None", extra: "Mapping[str, Any] | None" = None
    ) -> None:
        """End the command span: ``outcome`` None for a success (exit code 0)."""
        self.recorder.closed(self)
        if os.getpid() != self.pid:
            if self.sdk is not None:
                self.recorder.pipeline_detach(self.token)
            return
        code, name = (0, SUCCESS) if outcome is None else (outcome.code, outcome.outcome)
        values: dict[str, Any] = {
            attributes.EXIT_CODE: code,
            attributes.OUTCOME: name,
            attributes.DURATION_MS: round((time.perf_counter_ns() - self.started_perf) / 1e6, 3),
        }
        if extra:
            values.update(extra)
        failed = code != 0
        if failed:
            assert outcome is not None
            from otel_cli_telemetry._process import command

            values["error.type"] = outcome.error_type or command.OTHER
        self._require(values)
        if self.light is None:
            self.recorder.pipeline_finish(self, values, name if failed else None)
            return
        span = self.light
        span.set_attributes(values)
        if failed:
            # The description stays generic: exception messages can hold secrets.
            span.status = Status(ERROR, name)
        span.end_time = time.time_ns()
        self.recorder.gate.on_end(span)

    def _require(self, values: "Mapping[str, Any]") -> None:
        """The CLI span's required attributes survive any attribute count limit: the gate
        puts back those the limit evicted (``gate.WithRequired``)."""
        recorder = self.recorder
        required: dict[str, Any] = {
            attributes.EXECUTABLE_NAME: attributes.executable_name(
                recorder.handoff.options.service_name
            ),
            attributes.PID: self.pid,
        }
        for key in (attributes.EXIT_CODE, attributes.ERROR_TYPE):
            if key in values:
                required[key] = values[key]
        length = recorder.limits.value_length
        if length is not None:
            required = {k: truncate(v, length) for k, v in required.items()}
        ids = self.ids
        recorder.gate.require(ids.trace_id, ids.span_id, required)


class Recorder:
    """Starts command spans for one hand-off; owns the gate both kinds of span end in."""

    def __init__(self, handoff: "Handoff") -> None:
        self.handoff = handoff
        self.gate = TraceGate(handoff.deliver)
        self.pipeline: Pipeline | None = None
        self._open: list[CommandSpan] = []
        self._resource: Resource | None = None
        self._limits: Limits | None = None
        self._sampler: tuple[str, float] | None = None
        self._installation_in: bool | None = None

    @property
    def limits(self) -> "Limits":
        """Span limits from ``OTEL_*_LIMIT`` (read once), for light and SDK spans alike."""
        if self._limits is None:
            self._limits = config.limits_from_env(self.handoff.options.env)
            self.handoff.name_length = self._limits.value_length
        return self._limits

    @property
    def sampler(self) -> "tuple[str, float]":
        """``(OTEL_TRACES_SAMPLER, its ratio)``, read once."""
        if self._sampler is None:
            self._sampler = config.sampler_from_env(self.handoff.options.env)
        return self._sampler

    def installation_sampled(self) -> bool:
        """The author's ``sample_rate`` for this installation (decided once; reads the
        installation id only when a rate below 1 was asked for)."""
        if self._installation_in is None:
            rate = self.handoff.options.sample_rate
            self._installation_in = rate >= 1.0 or light.installation_sampled(
                self.handoff.resource.get("app.installation.id"), rate
            )
        return self._installation_in

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
        if opts.sample_rate < 1.0:
            attrs[attributes.SAMPLE_RATE] = opts.sample_rate  # a backend re-weights by it
        full = f"{opts.service_name} {name}".strip()
        if self.pipeline is not None:
            fresh = CommandSpan(self, opts.service_name, None)
            span = self.pipeline.start(fresh, full, root=root, attrs=attrs)
        else:
            span = CommandSpan(self, opts.service_name, self._light(full, root, attrs))
        ids = span.ids
        if root and ids.trace_flags & SAMPLED:
            # A sampled-out command is never registered: the gate drops it whole, so it
            # costs no encoding, no spool file and no exporter.
            self.gate.register_root(ids.trace_id, ids.span_id)
        self._open.append(span)
        return span

    def _light(self, name: str, root: bool, attrs: "dict[str, Any]") -> "LightSpan":
        env = self.handoff.options.env
        parent = _remote_parent(env) if root else None
        if not root and self._open:
            parent = self._open[-1].ids  # a nested command: a child of the enclosing one
        if parent is not None:
            trace_id, random_bit = parent.trace_id, parent.trace_flags & RANDOM_TRACE_ID
        else:
            trace_id, random_bit = random_id(16), RANDOM_TRACE_ID
        sampler, ratio = self.sampler
        sampled = light.decide(sampler, ratio, trace_id, parent)
        if sampled and self.handoff.options.sample_rate < 1.0:
            sampled = self.installation_sampled()
        flags = (SAMPLED if sampled else 0) | random_bit
        state = parent.trace_state if parent is not None else None
        ids = SpanIds(trace_id, random_id(8), flags, state)
        if not sampled:
            # Never encoded: the resource (and the installation id behind it) is not read.
            return LightSpan(name, ids, parent, attrs, Resource({}), self.limits)
        if self._resource is None:
            self._resource = Resource(self.handoff.resource)
        return LightSpan(name, ids, parent, attrs, self._resource, self.limits)

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

    def light_context(self) -> "LightSpan | None":
        """The innermost open command span while no SDK runs: the context a subprocess gets
        without loading the SDK (``session.child_env``); None once the SDK runs."""
        if self.pipeline is not None or not self._open:
            return None
        return self._open[-1].light


def _remote_parent(env: "Mapping[str, str]") -> "SpanIds | None":
    """The caller's span from ``TRACEPARENT``; the parser loads only when one was passed."""
    if not env.get(config.TRACEPARENT):
        return None
    from otel_cli_telemetry._process.trace_context import remote_parent

    return remote_parent(env)
