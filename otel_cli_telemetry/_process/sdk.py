"""The SDK side of the enabled path: a private TracerProvider whose span processor feeds
the same gate as the light recorder (``_recorder``), for commands that make child spans.

Imported only when a command asks for the SDK (``telemetry.tracer``,
``install_global_tracer_provider``); importing it imports the OpenTelemetry SDK. The host's
global TracerProvider is never touched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace import sampling as sdk_sampling
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_cli_telemetry._process import attributes, propagation
from otel_cli_telemetry._process.processor import ConsentSpanProcessor

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Protocol, TypeVar

    from opentelemetry.context import Context
    from opentelemetry.trace import Link
    from opentelemetry.util.types import Attributes

    from otel_cli_telemetry._process.config import Limits
    from otel_cli_telemetry._process.gate import TraceGate
    from otel_cli_telemetry._process.handoff import Handoff
    from otel_cli_telemetry._process.light import LightSpan

    # ``recorder`` builds the pipeline and calls it; naming its classes through their shape
    # keeps this module from pointing back at it (no import cycle, not even for types).
    class Recorder(Protocol):
        """What the pipeline reads of ``recorder.Recorder``."""

        handoff: Handoff
        gate: TraceGate

        @property
        def sampler(self) -> tuple[str, float]: ...

        @property
        def limits(self) -> Limits: ...

        def installation_sampled(self) -> bool: ...

    class CommandSpan(Protocol):
        """What the pipeline reads and sets of ``recorder.CommandSpan``."""

        light: LightSpan | None
        sdk: Any
        token: object

        @property
        def recorder(self) -> Recorder: ...

    S = TypeVar("S", bound=CommandSpan)


# The SDK reports problems (an invalid attribute, a limit reached) with logging.warning.
# A CLI that configured no logging would print those through logging's last-resort
# handler, on the user's stderr. A NullHandler stops that fallback; it does not stop
# propagation, so a host that configured logging still sees everything.
logging.getLogger("opentelemetry").addHandler(logging.NullHandler())
logging.getLogger("otel_cli_telemetry").addHandler(logging.NullHandler())


class _PresetIds(RandomIdGenerator):
    """Random ids, except the next ones when preset: how a light command span continues
    as an SDK span with the same trace id and span id."""

    def __init__(self) -> None:
        self.trace_id: int | None = None
        self.span_id: int | None = None

    def generate_trace_id(self) -> int:
        preset, self.trace_id = self.trace_id, None
        return preset or super().generate_trace_id()

    def generate_span_id(self) -> int:
        preset, self.span_id = self.span_id, None
        return preset or super().generate_span_id()


def spec_sampler(name: str, ratio: float) -> sdk_sampling.Sampler:
    """The SDK's own sampler for an ``OTEL_TRACES_SAMPLER`` value (``config.SAMPLERS``)."""
    if name == "always_on":
        return sdk_sampling.ALWAYS_ON
    if name == "always_off":
        return sdk_sampling.ALWAYS_OFF
    if name == "traceidratio":
        return sdk_sampling.TraceIdRatioBased(ratio)
    if name == "parentbased_always_off":
        return sdk_sampling.ParentBased(sdk_sampling.ALWAYS_OFF)
    if name == "parentbased_traceidratio":
        return sdk_sampling.ParentBasedTraceIdRatio(ratio)
    return sdk_sampling.ParentBased(sdk_sampling.ALWAYS_ON)


class _InstallationSampler(sdk_sampling.Sampler):
    """The spec sampler, after the author's ``sample_rate`` (per installation) said yes."""

    def __init__(self, recorder: Recorder, spec: sdk_sampling.Sampler) -> None:
        self.recorder = recorder
        self.spec = spec

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace_api.TraceState | None = None,
    ) -> sdk_sampling.SamplingResult:
        result = self.spec.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        sampled = result.decision is sdk_sampling.Decision.RECORD_AND_SAMPLE
        if sampled and not self.recorder.installation_sampled():
            return sdk_sampling.SamplingResult(sdk_sampling.Decision.DROP, None, result.trace_state)
        return result

    def get_description(self) -> str:
        return f"InstallationSampled{{{self.spec.get_description()}}}"


def span_limits(limits: Limits) -> SpanLimits:
    """``config.Limits`` as the SDK's SpanLimits (every field explicit: the SDK would read
    ``os.environ``, and the app may have been given another environment)."""

    def value(limit: int | None) -> int:
        return SpanLimits.UNSET if limit is None else limit

    return SpanLimits(
        max_attributes=value(limits.span_attributes),
        max_events=value(limits.events),
        max_links=value(limits.links),
        max_span_attributes=value(limits.span_attributes),
        max_event_attributes=value(limits.event_attributes),
        max_link_attributes=value(limits.link_attributes),
        max_attribute_length=value(limits.attribute_length),
        max_span_attribute_length=value(limits.value_length),
    )


class Pipeline:
    """One per recorder, built the first time a command asks for the SDK."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.processor = ConsentSpanProcessor(recorder.gate)
        self._ids = _PresetIds()
        sampler = spec_sampler(*recorder.sampler)
        if recorder.handoff.options.sample_rate < 1.0:
            sampler = _InstallationSampler(recorder, sampler)
        self.provider = TracerProvider(
            resource=Resource(recorder.handoff.resource),
            sampler=sampler,
            span_limits=span_limits(recorder.limits),
            id_generator=self._ids,
            shutdown_on_exit=False,
        )
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer(attributes.SCOPE_NAME, attributes.SCOPE_VERSION)

    def start(self, command_span: S, name: str, *, root: bool, attrs: dict[str, Any]) -> S:
        """Make ``command_span`` (fresh, with no light span) an SDK span from the start (the
        SDK already runs). The recorder builds it: this module never imports the recorder."""
        recorder = command_span.recorder
        parent = propagation.extract(recorder.handoff.options.env) if root else None
        span = self.tracer.start_span(
            name, context=parent, kind=SpanKind.INTERNAL, attributes=attrs
        )
        command_span.sdk = span
        # The caller's baggage (in ``parent``) stays in the command's context.
        command_span.token = context_api.attach(trace_api.set_span_in_context(span, parent))
        return command_span

    def adopt(self, command_span: CommandSpan) -> None:
        """Continue a light command span as an SDK span: same trace id, span id, start time,
        parent, name and attributes; it becomes the current span."""
        light = command_span.light
        assert light is not None
        parent = light.parent
        if parent is None:
            context = context_api.Context()
            self._ids.trace_id = light.context.trace_id
        else:
            state = (
                trace_api.TraceState.from_header([parent.trace_state])
                if parent.trace_state
                else None
            )
            parent_context = trace_api.SpanContext(
                parent.trace_id,
                parent.span_id,
                is_remote=parent.is_remote,
                trace_flags=trace_api.TraceFlags(parent.trace_flags),
                trace_state=state,
            )
            context = trace_api.set_span_in_context(trace_api.NonRecordingSpan(parent_context))
        self._ids.span_id = light.context.span_id
        span = self.tracer.start_span(
            light.name,
            context=context,
            kind=SpanKind.INTERNAL,
            attributes=light.attributes,
            start_time=light.start_time,
        )
        dropped = light.dropped_attributes
        bounded = getattr(span, "_attributes", None)
        if dropped and bounded is not None and hasattr(bounded, "dropped"):
            bounded.dropped += dropped  # what the light span already dropped still counts
        command_span.sdk = span
        command_span.light = None
        # A command span started by the recorder (no enclosing one) carries the caller's
        # baggage in its context, as an SDK-started one does.
        enclosing = parent is not None and not parent.is_remote
        base = None if enclosing else propagation.extract(self.recorder.handoff.options.env)
        command_span.token = context_api.attach(trace_api.set_span_in_context(span, base))

    def finish(self, command_span: CommandSpan, values: dict[str, Any], error: str | None) -> None:
        span = command_span.sdk
        try:
            span.set_attributes(values)
            if error is not None:
                # The description stays generic: exception messages can hold secrets.
                span.set_status(Status(StatusCode.ERROR, error))
        finally:
            try:
                self.detach(command_span.token)
            finally:
                span.end()

    @staticmethod
    def detach(token: object) -> None:
        context_api.detach(token)  # type: ignore[arg-type]
