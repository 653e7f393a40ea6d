"""The enabled path: a private TracerProvider, the command span, and delivery.

Imported only once consent said yes; importing it imports the OpenTelemetry SDK.
The host's global TracerProvider is never touched.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.version import __version__ as sdk_version
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import (
    attributes,
    command,
    coordination,
    delivery,
    launcher,
    otlp_json,
    propagation,
    spool,
    state,
)
from . import destination as destination_mod
from .processor import ConsentSpanProcessor

#: Attribute values longer than this are truncated by the SDK.
MAX_ATTRIBUTE_LENGTH = 1024

# The SDK reports problems (an invalid attribute, a limit reached) with logging.warning.
# A CLI that configured no logging would print those through logging's last-resort
# handler, on the user's stderr. A NullHandler stops that fallback; it does not stop
# propagation, so a host that configured logging still sees everything.
logging.getLogger("opentelemetry").addHandler(logging.NullHandler())
logging.getLogger("otel_cli_telemetry").addHandler(logging.NullHandler())


class PipelineOptions:
    """Everything the pipeline needs, resolved by Telemetry. ``capture`` (the test kit)
    receives each encoded request instead of the spool: no disk, no child."""

    def __init__(
        self,
        *,
        service_name: str,
        service_version: str | None,
        env_prefix: str,
        paths: state.Paths,
        destinations: list[destination_mod.Destination],
        debug: bool,
        env: Mapping[str, str],
        spawn: launcher.Spawn | None = None,
        stderr: Any = None,
        capture: Callable[[dict[str, Any]], None] | None = None,
        identity_linking: bool = False,
    ) -> None:
        self.identity_linking = identity_linking
        self.service_name = service_name
        self.service_version = service_version
        self.env_prefix = env_prefix
        self.paths = paths
        self.destinations = destinations
        self.debug = debug
        self.env = env
        self.spawn = spawn
        self.stderr = stderr
        self.capture = capture


class Counters:
    """What this process dropped and why; never printed, shown by ``status``."""

    def __init__(self) -> None:
        self.dropped: dict[str, int] = {}
        self.spooled = 0
        self.exporters_started = 0
        self.last_spool_file: str | None = None

    def count(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


class Pipeline:
    """One per Telemetry object, built on its first enabled command."""

    def __init__(self, options: PipelineOptions) -> None:
        self.options = options
        self.counters = Counters()
        self.processor = ConsentSpanProcessor(lambda: True, self._deliver)
        self.provider = TracerProvider(
            resource=Resource(self._resource_attributes()),
            sampler=ALWAYS_ON,
            span_limits=SpanLimits(
                max_attributes=128,
                max_events=32,
                max_links=32,
                max_attribute_length=MAX_ATTRIBUTE_LENGTH,
            ),
            shutdown_on_exit=False,
        )
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer(attributes.SCOPE_NAME, attributes.SCOPE_VERSION)

    def _resource_attributes(self) -> dict[str, Any]:
        opts = self.options
        install_id: str | None
        principal: str | None = None
        try:
            if opts.debug or opts.capture is not None:
                # Debug and capture write nothing: show the id if one exists.
                existing = state.read_json(opts.paths.state_file) or {}
                install_id = str(existing.get("installation_id") or state.random_uuid())
                linked = existing.get("linked_principal_id")
                principal = linked if isinstance(linked, str) and linked else None
            else:
                from . import identity

                state.ensure_dir(opts.paths.home)
                current = identity.read(opts.paths)
                install_id = current.installation_id
                principal = current.linked_principal_id
        except (OSError, ValueError, TimeoutError, state.UnsafeHomeError):
            self.counters.count("installation_id_unavailable")
            install_id = None
        attrs: dict[str, Any] = dict(
            attributes.resource_attributes(
                opts.service_name, opts.service_version, install_id, opts.env, sdk_version
            )
        )
        if principal and opts.identity_linking:
            attrs["user.id"] = principal  # personal data: only when the author opted in
        return attrs

    # --- the command span -----------------------------------------------------------

    def parent_context(self) -> context_api.Context | None:
        """A context carrying the remote parent from ``TRACEPARENT``, if valid."""
        return propagation.extract(self.options.env)

    def start(self, name: str, *, root: bool, extra: Mapping[str, Any] | None) -> CommandSpan:
        attrs: dict[str, Any] = {
            "process.executable.name": attributes.executable_name(self.options.service_name),
            "process.pid": os.getpid(),
        }
        if extra:
            cleaned, refused = attributes.clean_user_attributes(extra)
            attrs.update(cleaned)
            if refused:
                self.counters.count("invalid_attribute", refused)
        parent = self.parent_context() if root else None
        span = self.tracer.start_span(
            f"{self.options.service_name} {name}".strip(),
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
        )
        if root:
            ctx = span.get_span_context()
            self.processor.register_root(ctx.trace_id, ctx.span_id)
        token = context_api.attach(trace_api.set_span_in_context(span))
        return CommandSpan(
            span, token, time.perf_counter_ns(), self.options.service_name, self.processor
        )

    # --- delivery -------------------------------------------------------------------

    def _deliver(self, spans: Sequence[ReadableSpan], overflow: int) -> None:
        opts = self.options
        encoder = otlp_json.Encoder(finite_only=_json_on_the_wire(opts.destinations))
        request = encoder.encode(spans)
        if encoder.dropped_values:
            self.counters.count("unencodable_value", encoder.dropped_values)
        if overflow:
            self.counters.count("span_limit", overflow)
        if opts.capture is not None:
            opts.capture(request)
            return
        if opts.debug:
            out = opts.stderr if opts.stderr is not None else sys.stderr
            out.write(json.dumps(request, indent=2, ensure_ascii=False) + "\n")
            return
        queues = [q for q, _ in destination_mod.queues(opts.paths, opts.destinations)]
        try:
            path = spool.write(queues[0].spool_dir, spool.dumps(request))
        except (OSError, ValueError) as exc:
            reason = f"spool_write_{exc.__class__.__name__}"
            self.counters.count(reason)
            # Written down now if the disk lets us, else kept until it does.
            delivery.record_drops(queues[0].delivery_file, queues[0].state_lock, {reason: 1})
            return
        for extra in queues[1:]:
            # Each destination keeps its own queue: a hard link costs no extra space.
            try:
                spool.link(path, extra.spool_dir)
            except (OSError, ValueError) as exc:
                self.counters.count(f"spool_link_{exc.__class__.__name__}")
        self.counters.spooled += 1
        self.counters.last_spool_file = path.name
        try:
            for queue in queues:
                # The caps hold whether or not an exporter runs (backing off, stopped).
                dropped = spool.enforce_caps(queue.spool_dir)
                delivery.record_drops(
                    queue.delivery_file,
                    queue.state_lock,
                    {f"cap_{k}": v for k, v in dropped.items()},
                )
            destination_mod.save(opts.paths.destination_file, opts.destinations)
            ready, _why = launcher.should_start(opts.paths, queues=queues, env=opts.env)
            if ready:
                if launcher.start(opts.paths, opts.env, spawn=opts.spawn) is not None:
                    self.counters.exporters_started += 1
                else:
                    coordination.release_claim(opts.paths)
                    self.counters.count("spawn_failed")
        except (OSError, ValueError) as exc:
            self.counters.count(f"launch_{exc.__class__.__name__}")


def _json_on_the_wire(destinations: Sequence[destination_mod.Destination]) -> bool:
    """True if a destination sends OTLP/JSON, where NaN and infinities are refused."""
    return any(d.kind == destination_mod.OTLP and d.protocol == "http/json" for d in destinations)


class CommandSpan:
    """The live command span and what ending it needs."""

    __slots__ = ("pid", "processor", "service_name", "span", "started_ns", "token")

    def __init__(
        self,
        span: Any,
        token: object,
        started_ns: int,
        service_name: str = "",
        processor: ConsentSpanProcessor | None = None,
    ) -> None:
        self.span = span
        self.token = token
        self.started_ns = started_ns
        self.service_name = service_name
        self.processor = processor
        #: Only the process that started the span ends it: after a host ``os.fork()`` the
        #: child running on through the ``with`` block must not deliver it a second time.
        self.pid = os.getpid()

    def discard(self) -> None:
        """This run is not to be recorded (e.g. the ``telemetry`` consent commands)."""
        if self.processor is not None:
            self.processor.discard(self.span.get_span_context().trace_id)

    def rename(self, name: str) -> None:
        self.span.update_name(f"{self.service_name} {name}".strip())

    def finish(self, outcome: command.Exit, extra: Mapping[str, Any] | None = None) -> None:
        span = self.span
        if os.getpid() != self.pid:
            context_api.detach(self.token)  # type: ignore[arg-type]
            return
        try:
            duration_ms = (time.perf_counter_ns() - self.started_ns) / 1e6
            span.set_attribute("process.exit.code", outcome.code)
            span.set_attribute(attributes.OUTCOME, outcome.outcome)
            span.set_attribute(attributes.DURATION_MS, round(duration_ms, 3))
            if extra:
                span.set_attributes(dict(extra))
            if outcome.code != 0:
                span.set_attribute("error.type", outcome.error_type or command.OTHER)
                # The description stays generic: exception messages can hold secrets.
                span.set_status(Status(StatusCode.ERROR, outcome.outcome))
        finally:
            try:
                context_api.detach(self.token)  # type: ignore[arg-type]
            finally:
                span.end()
