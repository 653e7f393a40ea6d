"""The hand-off from the CLI process to the exporter child: what the gate calls when a
command's trace is complete. Encode once (OTLP/JSON), then the test kit's capture, the
debug print, or the spool file, the other destinations' queues, the caps, and the
launcher. Also the resource every span of this process carries.

Stdlib only: the light usage path and the SDK path both end here.
"""

import os
import sys

from otel_cli_telemetry._disk import contract, enqueue, otlp_json, state
from otel_cli_telemetry._disk import destination as destination_mod
from otel_cli_telemetry._process import attributes, config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from otel_cli_telemetry._process.launcher import Spawn


#: The loss reason of spans past the per-trace cap (``gate.MAX_SPANS_PER_TRACE``).
SPAN_CAP = "span_cap"


class Options:
    """Everything the hand-off needs, resolved by Telemetry. ``capture`` (the test kit)
    receives each encoded request instead of the spool: no disk, no child."""

    def __init__(
        self,
        *,
        service_name: str,
        service_version: "str | None",
        env_prefix: str,
        paths: "state.Paths",
        destinations: "list[destination_mod.Destination]",
        debug: bool,
        env: "Mapping[str, str]",
        spawn: "Spawn | None" = None,
        stderr: "Any" = None,
        capture: "Callable[[dict[str, Any]], None] | None" = None,
        identity_linking: bool = False,
        sample_rate: float = 1.0,
        consent_context: "dict[str, object] | None" = None,
        mode: str = "on",
    ) -> None:
        #: The consent mode that decided this command (``on`` or ``local``), recorded with
        #: each trace with ``consent_context`` and the destinations it is queued for.
        self.mode = mode
        #: What the exporter child needs to decide consent again (``consent.context``).
        self.consent_context = consent_context
        #: The author's ``sample_rate``: the share of installations that record (``trace_context``).
        self.sample_rate = sample_rate
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
    """What this process dropped and why (tests read it; losses that matter across
    processes are also written to ``delivery.json``, which ``status`` shows)."""

    def __init__(self) -> None:
        self.dropped: dict[str, int] = {}
        self.spooled = 0
        self.exporters_started = 0
        self.last_spool_file: str | None = None

    def count(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


class Handoff:
    """One per Telemetry object (and one more while the test kit captures)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.counters = Counters()
        self._resource: dict[str, Any] | None = None
        #: Span names are cut like attribute values: the recorder sets the value length
        #: limit it read (``config.Limits.value_length``; None: no limit).
        self.name_length: int | None = config.DEFAULT_VALUE_LENGTH

    @property
    def resource(self) -> "dict[str, Any]":
        """The resource attributes of every span this process sends (computed once)."""
        if self._resource is None:
            self._resource = self._resource_attributes()
        return self._resource

    def _resource_attributes(self) -> "dict[str, Any]":
        opts = self.options
        install_id: str | None
        principal: str | None = None
        cache: str | None = None  # sdk.json: written only where the command may write
        try:
            if opts.debug or opts.capture is not None:
                # Debug and capture write nothing: show the id if one exists.
                existing = state.read_json(opts.paths.state_file) or {}
                install_id = str(existing.get("installation_id") or state.uuid4())
                linked = existing.get("linked_principal_id")
                principal = linked if isinstance(linked, str) and linked else None
            else:
                from otel_cli_telemetry._disk import identity

                state.ensure_dir(opts.paths.home)
                current = identity.read(opts.paths)
                install_id = current.installation_id
                principal = current.linked_principal_id
                cache = opts.paths.sdk_file
        except (OSError, ValueError, TimeoutError):
            self.counters.count("installation_id_unavailable")
            install_id = None
        attrs: dict[str, Any] = dict(
            attributes.resource_attributes(
                opts.service_name,
                opts.service_version,
                install_id,
                opts.env,
                attributes.sdk_version(cache),
            )
        )
        if principal and opts.identity_linking:
            attrs["user.id"] = principal  # personal data: only when the author opted in
        return attrs

    def deliver(self, spans: "Sequence[Any]", overflow: int) -> None:
        """The gate's ``deliver``: one finished trace, root span last."""
        opts = self.options
        encoder = otlp_json.Encoder(
            finite_only=_json_on_the_wire(opts.destinations), name_length=self.name_length
        )
        request = encoder.encode(spans)
        if encoder.dropped_values:
            self.counters.count("unencodable_value", encoder.dropped_values)
        if overflow:
            self.counters.count(SPAN_CAP, overflow)
        if opts.capture is not None:
            opts.capture(request)
            return
        if opts.debug:
            import json

            from otel_cli_telemetry._disk.urls import redact_text

            out = opts.stderr if opts.stderr is not None else sys.stderr
            for dest in opts.destinations:
                if dest.problem:  # what status says: where this would wait, and why
                    out.write(f"otel-cli-telemetry: {dest.describe()}\n")
            out.write(redact_text(json.dumps(request, indent=2, ensure_ascii=False)) + "\n")
            return
        self._spool_and_launch(request, overflow)

    def _spool_and_launch(self, request: "dict[str, Any]", overflow: int = 0) -> None:
        opts = self.options
        if os.path.lexists(opts.paths.destination_file):
            # An earlier version's queues first: none is claimed for a destination its
            # traces were not recorded for (one ``lexists`` when there are none).
            from otel_cli_telemetry._disk import inventory

            inventory.adopt_legacy(opts.paths)
        items = destination_mod.queues(opts.paths, opts.destinations)
        queues = [q for q, _ in items]
        decision = contract.decision_record(
            opts.mode, [destination_mod.queue_id(d) for _, d in items], opts.consent_context
        )
        try:
            state.ensure_dir(opts.paths.home)
            for queue, dest in items:
                # The child sends a queue only to the destination its record names.
                destination_mod.save(queue, dest)
            path = enqueue.write(
                queues[0].spool_dir,
                enqueue.dumps(request),
                decision=decision,
                after=[q.spool_dir for q in queues[1:]],
            )
        except (OSError, ValueError) as exc:
            reason = f"spool_write_{exc.__class__.__name__}"
            self.counters.count(reason)
            # Written down now if the disk lets us, else kept until it does.
            from otel_cli_telemetry._disk import delivery

            delivery.record_drops(queues[0].delivery_file, queues[0].state_lock, {reason: 1})
            return
        for extra in queues[1:]:
            # Each destination keeps its own queue: a hard link costs no extra space.
            try:
                enqueue.link(path, extra.spool_dir)
            except (OSError, ValueError) as exc:
                reason = f"spool_link_{exc.__class__.__name__}"
                self.counters.count(reason)
                # That destination never gets this trace: its queue counts the loss.
                from otel_cli_telemetry._disk import delivery

                delivery.record_drops(extra.delivery_file, extra.state_lock, {reason: 1})
        self.counters.spooled += 1
        self.counters.last_spool_file = os.path.basename(path)
        try:
            for queue in queues:
                # The caps hold whether or not an exporter runs (backing off, stopped).
                dropped = enqueue.enforce_caps(queue.spool_dir)
                drops = {f"cap_{k}": v for k, v in dropped.items()}
                if overflow:
                    # Spans past the per-trace cap: counted where every loss is (as spans,
                    # ``delivery.SPAN_REASONS``), announced with the next delivered span.
                    drops[SPAN_CAP] = overflow
                if drops:
                    from otel_cli_telemetry._disk import delivery

                    delivery.record_drops(queue.delivery_file, queue.state_lock, drops)
            # A destination that cannot be used keeps its queue: no exporter for it alone.
            usable = [q for q, d in items if not d.problem]
            if usable:
                self._launch(usable)
        except (OSError, ValueError) as exc:
            self.counters.count(f"launch_{exc.__class__.__name__}")

    def _launch(self, queues: "list[state.Paths]") -> None:
        # The last thing a command does, and as cheap as the platform allows.
        from otel_cli_telemetry._disk import marker as coordination
        from otel_cli_telemetry._process import launcher

        opts = self.options
        ready, _why = launcher.should_start(opts.paths, queues=queues, env=opts.env)
        if not ready:
            return
        if launcher.start(opts.paths, opts.env, spawn=opts.spawn) is not None:
            self.counters.exporters_started += 1
        else:
            coordination.release_claim(opts.paths)
            self.counters.count("spawn_failed")


def _json_on_the_wire(destinations: "Sequence[destination_mod.Destination]") -> bool:
    """True if a destination sends OTLP/JSON, where NaN and infinities are refused."""
    return any(d.kind == destination_mod.OTLP and d.protocol == "http/json" for d in destinations)
