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

import functools
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from otel_cli_telemetry._disk import delivery, locks, spool, state
from otel_cli_telemetry._disk import destination as destination_mod
from otel_cli_telemetry._exporter import batch
from otel_cli_telemetry._exporter.sinks import Sink
from otel_cli_telemetry._exporter.sinks.registry import make_sink
from otel_cli_telemetry._record import Record

__all__ = ["SPOOL_STUCK", "Report", "Run", "drain", "drain_all", "make_sink", "progress_of"]

MAX_BATCH_BYTES = 1024 * 1024
#: How long a newly started child waits for a drainer that is just finishing.
LOCK_WAIT_S = 0.5
#: ``Report.last_error`` when sent files cannot be deleted (sending more would duplicate).
SPOOL_STUCK = batch.SPOOL_STUCK


class Report(Record):
    """What one drain did; ``flush`` prints it, tests assert on it. (Plain classes, not
    dataclasses: importing ``dataclasses`` costs the child about 70 M instructions.)"""

    __slots__ = (
        "delivered", "dropped", "remaining", "attempts", "locked_out", "backing_off",
        "last_error",
    )  # fmt: skip

    def __init__(
        self,
        delivered: int = 0,
        dropped: dict[str, int] | None = None,
        remaining: int = 0,
        attempts: int = 0,
        locked_out: bool = False,
        backing_off: bool = False,
        last_error: str | None = None,
    ) -> None:
        self.delivered = delivered
        self.dropped: dict[str, int] = {} if dropped is None else dropped
        self.remaining = remaining
        self.attempts = attempts
        self.locked_out = locked_out
        self.backing_off = backing_off
        self.last_error = last_error

    def merge(self, other: Report) -> None:
        """Add another destination's report to this one."""
        self.delivered += other.delivered
        self.add_drops(other.dropped)
        self.remaining += other.remaining
        self.attempts += other.attempts
        self.locked_out = self.locked_out or other.locked_out
        self.backing_off = self.backing_off or other.backing_off
        self.last_error = self.last_error or other.last_error

    def add_drops(self, drops: Mapping[str, int]) -> None:
        for reason, count in drops.items():
            if count > 0:
                self.dropped[reason] = self.dropped.get(reason, 0) + count


def progress_of(report: Report) -> int:
    """Traces dealt with so far (delivered or dropped): how a caller sees a pass stall."""
    return report.delivered + sum(report.dropped.values())


class Run(Record):
    """One drain's run context, handed to whatever sends a batch: the queue's paths, the
    sink, the report being filled, the deadline (on ``clock``) and the clocks."""

    __slots__ = (
        "paths",
        "sink",
        "report",
        "end",
        "clock",
        "wall",
        "sleep",
        "withdrawn",
        "decisions",
    )

    def __init__(
        self,
        paths: state.Paths,
        sink: Sink,
        report: Report,
        end: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        withdrawn: Callable[[dict[str, Any] | None], str | None] | None = None,
    ) -> None:
        self.paths = paths
        self.sink = sink
        self.report = report
        self.end = end
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        #: Consent asked of each trace's decision record (``child.consent_check``): a reason
        #: if it may no longer be sent to this queue's destination.
        self.withdrawn = withdrawn
        #: The decision record of each trace read, by spool path (None: an earlier version's).
        self.decisions: dict[str, dict[str, Any] | None] = {}

    def time_left(self) -> float:
        return self.end - self.clock()

    def admitted(self, entries: list[spool.Entry]) -> list[int]:
        """Which of ``entries`` may be sent now, asked before every attempt: the file is
        still queued (``disable`` or ``reset`` may have deleted it while we waited), and
        consent, asked again, still allows it (one that it no longer allows is deleted,
        counted by reason, not announced: that the user said no is nobody's business)."""
        keep: list[int] = []
        verdicts: dict[str, str | None] = {}
        for index, entry in enumerate(entries):
            if not os.path.lexists(entry.path):
                continue
            decision = self.decisions.get(entry.path)
            key = repr(decision)
            if key not in verdicts:
                verdicts[key] = None if self.withdrawn is None else self.withdrawn(decision)
            why = verdicts[key]
            if why is None:
                keep.append(index)
            elif spool.remove(entry):
                self.count_drops({why: 1}, announce=False)
        return keep

    def record(self, change: Callable[[delivery.DeliveryState], None]) -> None:
        """Change ``delivery.json``, best effort: the spool is the source of truth."""
        delivery.update_quietly(self.paths.delivery_file, self.paths.state_lock, change)

    def count_drops(self, drops: Mapping[str, int], *, announce: bool = True) -> None:
        """Count lost traces by reason, in the report and in ``delivery.json`` (where
        ``status`` shows them); ``announce``: and report them on a later delivered span."""
        drops = {reason: count for reason, count in drops.items() if count > 0}
        if not drops:
            return
        self.report.add_drops(drops)

        def change(s: delivery.DeliveryState) -> None:
            if announce:
                s.add_drops(drops)
            else:
                for reason, count in drops.items():
                    s.dropped[reason] = min(s.dropped.get(reason, 0) + count, delivery.INT64_MAX)

        self.record(change)


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
    run.count_drops({f"cap_{k}": v for k, v in spool.enforce_caps(paths.spool_dir).items()})
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
                withdrawn=None if withdrawn is None else functools.partial(withdrawn, dest),
            )
        )
    return total
