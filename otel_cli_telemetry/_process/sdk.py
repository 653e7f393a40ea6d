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
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_cli_telemetry._process import attributes, propagation
from otel_cli_telemetry._process.processor import ConsentSpanProcessor
from otel_cli_telemetry._process.recorder import CommandSpan

if TYPE_CHECKING:
    from otel_cli_telemetry._process.recorder import Recorder

#: Attribute values longer than this are truncated by the SDK.
MAX_ATTRIBUTE_LENGTH = 1024

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


class Pipeline:
    """One per recorder, built the first time a command asks for the SDK."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.processor = ConsentSpanProcessor(recorder.gate)
        self._ids = _PresetIds()
        self.provider = TracerProvider(
            resource=Resource(recorder.handoff.resource),
            sampler=ALWAYS_ON,
            span_limits=SpanLimits(
                max_attributes=128,
                max_events=32,
                max_links=32,
                max_attribute_length=MAX_ATTRIBUTE_LENGTH,
            ),
            id_generator=self._ids,
            shutdown_on_exit=False,
        )
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer(attributes.SCOPE_NAME, attributes.SCOPE_VERSION)

    def start(
        self, recorder: Recorder, name: str, *, root: bool, attrs: dict[str, Any]
    ) -> CommandSpan:
        """A command span that is an SDK span from the start (the SDK already runs)."""
        parent = propagation.extract(recorder.handoff.options.env) if root else None
        span = self.tracer.start_span(
            name, context=parent, kind=SpanKind.INTERNAL, attributes=attrs
        )
        command_span = CommandSpan(recorder, recorder.handoff.options.service_name, None)
        command_span.sdk = span
        command_span.token = context_api.attach(trace_api.set_span_in_context(span))
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
        command_span.sdk = span
        command_span.light = None
        command_span.token = context_api.attach(trace_api.set_span_in_context(span))

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
