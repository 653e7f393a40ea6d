"""Draining one destination's spool queue: the lock, the passes over the queue, the report.

Used by the detached child (``otel_cli_telemetry._exporter.child``) and, in the foreground, by
``flush``. Sending one batch (retries, splitting, bookkeeping) is ``batch``'s job. Guarantees:

- one drainer per queue at a time (``export.lock``; the kernel drops it if the holder
  dies, so a ``kill -9`` never leaves a stale lock);
- a spool file is deleted only once the destination accepted it, or refused it for good
  (a non-retryable answer, recorded by reason in ``delivery.json``);
- retryable failures persist a back-off (or the server's ``Retry-After``) that every later
  command respects, so an offline machine makes a bounded number of attempts.
"""

from __future__ import annotations

import time

from otel_cli_telemetry._disk import delivery, enqueue, locks, spool
from otel_cli_telemetry._disk import destination as destination_mod
from otel_cli_telemetry._exporter import batch
from otel_cli_telemetry._exporter.run import Report, Run, progress_of
from otel_cli_telemetry._exporter.sinks.registry import make_sink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from otel_cli_telemetry._disk import state
    from otel_cli_telemetry._exporter.sinks import Sink

__all__ = ["SPOOL_STUCK", "drain", "drain_all", "make_sink"]

MAX_BATCH_BYTES = 1024 * 1024
#: How long a newly started child waits for a drainer that is just finishing.
LOCK_WAIT_S = 0.5
#: ``Report.last_error`` when sent files cannot be deleted (sending more would duplicate).
SPOOL_STUCK = batch.SPOOL_STUCK


def drain(
    paths: state.Paths,
    dest: destination_mod.Destination,
    *,
    deadline_s: float | None = None,
    sink: Sink | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    respect_backoff: bool = True,
    lock_wait_s: float = LOCK_WAIT_S,
    progress: Callable[[Report], None] | None = None,
    withdrawn: Callable[[dict[str, Any] | None], str | None] | None = None,
) -> Report:
    """Deliver everything in the spool that the time allows.

    ``withdrawn`` is asked of each trace's decision record before every attempt, retries
    included (``Run.admitted``): a reason (consent was withdrawn, or narrowed to local-only,
    since the trace was queued) drops that trace, counted.
    """
    end = clock() + (deadline_s if deadline_s is not None else dest.deadline_s)
    sink = sink or make_sink(dest, paths)
    run = Run(paths, sink, Report(), end, clock, wall, sleep, withdrawn=withdrawn)
    report = run.report
    lock = locks.FileLock(paths.export_lock)
    try:
        first = True
        while clock() < end:
            wait = lock_wait_s if first else 0.0
            if not lock.acquire(timeout=min(wait, max(0.0, run.time_left()))):
                # Someone else is draining, and will re-check the spool when done.
                report.locked_out = first
                break
            first = False
            before = progress_of(report)
            try:
                stopped_early = _one_pass(run, respect_backoff, progress)
            finally:
                lock.release()
            if stopped_early or report.backing_off or report.last_error == SPOOL_STUCK:
                break
            # Re-check after letting go: a command may have spooled a trace after our last
            # look while it saw the lock held, and so started no exporter of its own.
            if not spool.entries(paths.spool_dir) or progress_of(report) == before:
                break
    finally:
        run.sink.shutdown()
    report.remaining = len(spool.entries(paths.spool_dir))
    return report


def _one_pass(
    run: Run,
    respect_backoff: bool,
    progress: Callable[[Report], None] | None,
) -> bool:
    """One pass over the spool while holding the lock; True if it stopped early."""
    paths = run.paths
    if respect_backoff and delivery.load(paths.delivery_file).in_backoff(run.wall()):
        run.report.backing_off = True
        return False
    run.count_drops({f"cap_{k}": v for k, v in enqueue.enforce_caps(paths.spool_dir).items()})
    entries = spool.entries(paths.spool_dir)
    max_items = run.sink.max_batch_traces
    for batch_entries in spool.iter_batches(
        entries, max_bytes=MAX_BATCH_BYTES, max_items=max_items
    ):
        if run.time_left() <= 0:
            return True
        good, requests = batch.read(run, batch_entries)
        if not requests:
            continue
        stop = batch.send(run, good, requests)
        if progress is not None:
            progress(run.report)
        if stop:
            return False
    return False


def drain_all(
    paths: state.Paths,
    destinations: list[destination_mod.Destination],
    *,
    timeout_s: float,
    progress: Callable[[Report], None] | None = None,
    withdrawn: Callable[[destination_mod.Destination, dict[str, Any] | None], str | None]
    | None = None,
) -> Report:
    """Drain every destination's queue in the foreground (``flush``): waits for a running
    drainer, ignores the back-off, stops at ``timeout_s`` overall. Each queue goes to the
    destination given with it, and nowhere else."""
    total = Report()
    end = time.monotonic() + timeout_s
    for queue_paths, dest in destination_mod.queues(paths, destinations):
        if dest.problem:  # cannot be used: what waits is counted, and why is said
            total.merge(
                Report(remaining=len(spool.entries(queue_paths.spool_dir)), last_error=dest.problem)
            )
            continue
        remaining = max(0.1, end - time.monotonic())
        total.merge(
            drain(
                queue_paths,
                dest,
                deadline_s=remaining,
                respect_backoff=False,
                lock_wait_s=remaining,
                progress=progress,
                withdrawn=None if withdrawn is None else _bound(withdrawn, dest),
            )
        )
    return total


def _bound(
    withdrawn: Callable[[destination_mod.Destination, dict[str, Any] | None], str | None],
    dest: destination_mod.Destination,
) -> Callable[[dict[str, Any] | None], str | None]:
    """``withdrawn`` asked about ``dest`` (``functools.partial``, without its import)."""
    return lambda decision: withdrawn(dest, decision)
