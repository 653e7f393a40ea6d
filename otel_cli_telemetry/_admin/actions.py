"""What ``Telemetry``'s consent and identity methods do: ``status``, ``enable``/``disable``/
``local``, ``reset``, ``flush``, ``link_identity``/``unlink_identity``. The methods keep
their signatures and docstrings in ``telemetry.py``; their bodies load from here only when
called, so a command never pays for them.
"""

from otel_cli_telemetry._process import config
from otel_cli_telemetry._process import consent as consent_mod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from otel_cli_telemetry._admin.status import Status
    from otel_cli_telemetry._disk import destination as destination_mod
    from otel_cli_telemetry._disk import state
    from otel_cli_telemetry._process.host import Host
    from otel_cli_telemetry.records import Change, FlushReport


def status(telemetry: "Host") -> "Status":
    from otel_cli_telemetry._admin.status import Status
    from otel_cli_telemetry._disk import delivery, forget, spool

    decision = telemetry.consent()
    paths = telemetry._state_paths
    queues = queues_of(telemetry)
    from otel_cli_telemetry.records import QueueStatus

    deliveries = [
        QueueStatus.of(
            d.describe(),
            len(spool.entries(q.spool_dir)),
            delivery.load(q.delivery_file, with_tallies=True).to_json(),
        )
        for q, d in queues
    ]
    return Status(
        enabled=decision.enabled,
        rule=decision.rule,
        detail=decision.detail,
        home=paths.home,
        config_file=paths.config_file,
        debug=telemetry._debug(),
        spooled=sum(q.waiting for q in deliveries),
        queues=deliveries,
        mode=decision.mode,
        policy=policy_summary(telemetry),
        kept=forget.kept(paths),
    )


def queues_of(
    telemetry: "Host",
) -> "list[tuple[state.Paths, destination_mod.Destination]]":
    """The queues in the state dir, each with the destination it was recorded for, then this
    app's own destinations not queued for yet: what ``status`` shows and ``flush`` sends."""
    from otel_cli_telemetry._disk import destination as destination_mod
    from otel_cli_telemetry._disk import inventory, state

    paths = telemetry._state_paths
    try:
        found = inventory.recorded(paths) if state.check_dir(paths.home) else []
    except (OSError, ValueError):
        found = []
    # This app's own destination for a recorded queue (the same destination: same id) is
    # the fresher description of it (a new CA file, rotated headers); it goes nowhere else.
    own = {
        q.queue: (q, d)
        for q, d in destination_mod.queues(paths, telemetry._resolved_destinations())
    }
    known = [own.pop(q.queue, (q, d)) for q, d in found]
    return known + list(own.values())


def policy_summary(telemetry: "Host") -> str:
    from otel_cli_telemetry._disk import policy

    where = config.policy_path(telemetry.env)
    found = policy.load(where)
    if found is None:
        return f"none ({where} does not exist)"
    return found.mode_for(telemetry.service_name)[1]


def withdraw(telemetry: "Host", mode: str) -> "Change":
    """Persist ``mode`` (off or local) and delete what waits to be sent where it no longer
    may go."""
    from otel_cli_telemetry._disk import forget, state

    paths = telemetry._state_paths
    consent_mod.persist(paths.config_file, mode)
    spans = traces = 0
    if state.check_dir(paths.home):
        spans, traces = forget.delete_queued(paths, keep_local=mode == consent_mod.LOCAL)
    telemetry._forget_recorders()
    decision = telemetry.consent()
    from otel_cli_telemetry.records import Change

    return Change.of(decision, deleted_spans=spans, deleted_traces=traces)


def reset(telemetry: "Host") -> list[str]:
    from otel_cli_telemetry._disk import forget

    removed = forget.reset(telemetry._state_paths)
    telemetry._forget_recorders()
    return removed


def flush(
    telemetry: "Host",
    timeout: float | None,
    progress: "Callable[[FlushReport], None] | None",
) -> "FlushReport":
    from otel_cli_telemetry._exporter.child import consent_check
    from otel_cli_telemetry._exporter.drain import drain_all
    from otel_cli_telemetry._exporter.run import Report
    from otel_cli_telemetry.records import FlushReport

    queues = queues_of(telemetry)
    limit = timeout if timeout is not None else queues[0][1].deadline_s
    env = dict(telemetry.env)

    def withdrawn(
        dest: "destination_mod.Destination", decision: "dict[str, Any] | None"
    ) -> str | None:
        # The one consent function: the trace's record and consent now, as the child asks.
        return consent_check(telemetry._state_paths, dest, env)(decision)

    def report_progress(report: Report) -> None:
        if progress is not None:
            progress(FlushReport.of(report))

    # Each queue to the destination it was recorded for: never to another one.
    report = drain_all(
        telemetry._state_paths,
        [d for _, d in queues],
        timeout_s=limit,
        progress=report_progress,
        withdrawn=withdrawn,
    )
    return FlushReport.of(report)


def link_identity(telemetry: "Host", principal_id: str) -> bool:
    from otel_cli_telemetry._disk import destination as destination_mod
    from otel_cli_telemetry._disk import identity, state

    paths = telemetry._state_paths
    posthog = next(
        ((q, d) for q, d in destination_mod.queues(paths, telemetry._resolved_destinations())
         if d.kind == destination_mod.POSTHOG),
        None,
    )  # fmt: skip
    state.ensure_dir(paths.home)
    on_alias = None
    if posthog is not None:
        on_alias = _alias_queuer(telemetry, *posthog)
    linked = identity.link(paths, principal_id, on_alias=on_alias)
    telemetry._forget_recorders()  # the next command's resource carries the new identity
    return linked


def _alias_queuer(
    telemetry: "Host", queue: "state.Paths", dest: "destination_mod.Destination"
) -> "Callable[[str, str], None]":
    """``identity.link``'s ``on_alias``: queue a ``$create_alias`` in PostHog's queue (its
    record first), with the decision that allows it, like any trace."""
    import time

    from otel_cli_telemetry._disk import contract, enqueue
    from otel_cli_telemetry._disk import destination as destination_mod
    from otel_cli_telemetry._exporter.sinks.posthog import alias_request

    decision = contract.decision_record(
        telemetry.consent().mode, [destination_mod.queue_id(dest)], telemetry._consent_context()
    )

    def queue_alias(anonymous_id: str, principal_id: str) -> None:
        destination_mod.save(queue, dest)
        request = alias_request(anonymous_id, principal_id, time.time_ns())
        enqueue.write(queue.spool_dir, enqueue.dumps(request), decision=decision)

    return queue_alias


def unlink_identity(telemetry: "Host") -> None:
    from otel_cli_telemetry._disk import identity, state

    state.ensure_dir(telemetry._state_paths.home)
    identity.unlink(telemetry._state_paths)
    telemetry._forget_recorders()
