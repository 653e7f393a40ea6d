"""Draining one destination's spool queue: batches, retries, bookkeeping.

Used by the detached child (``otel_cli_telemetry._exporter.child``) and, in the foreground, by
``flush``. Guarantees:

- one drainer per queue at a time (``export.lock``; the kernel drops it if the holder
  dies, so a ``kill -9`` never leaves a stale lock);
- a spool file is deleted only once the destination accepted it, or refused it for good
  (a non-retryable answer, recorded by reason in ``delivery.json``);
- retryable failures persist a back-off (or the server's ``Retry-After``) that every later
  command respects, so an offline machine makes a bounded number of attempts.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otel_cli_telemetry._disk import delivery, spool, state
from otel_cli_telemetry._disk import destination as destination_mod
from otel_cli_telemetry._disk.otlp_read import is_command_span, iter_spans
from otel_cli_telemetry._exporter.sinks import ExportResult, Result, Sink
from otel_cli_telemetry._process import attributes

MAX_BATCH_BYTES = 1024 * 1024
#: Retries of one batch within one run, when the wait fits in the time left.
MAX_ATTEMPTS_PER_RUN = 4
#: How long a newly started child waits for a drainer that is just finishing.
LOCK_WAIT_S = 0.5
#: ``Report.last_error`` when sent files cannot be deleted (sending more would duplicate).
SPOOL_STUCK = "spool_not_deletable"


@dataclass
class Report:
    """What one drain did; ``flush`` prints it, tests assert on it."""

    delivered: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    remaining: int = 0
    attempts: int = 0
    locked_out: bool = False
    backing_off: bool = False
    last_error: str | None = None

    def merge(self, other: Report) -> None:
        """Add another destination's report to this one."""
        self.delivered += other.delivered
        for reason, count in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        self.remaining += other.remaining
        self.attempts += other.attempts
        self.locked_out = self.locked_out or other.locked_out
        self.backing_off = self.backing_off or other.backing_off
        self.last_error = self.last_error or other.last_error


def make_sink(dest: destination_mod.Destination, paths: state.Paths) -> Sink:
    if dest.kind == destination_mod.OTLP and dest.protocol == "grpc":
        from otel_cli_telemetry._exporter.sinks.grpc import OtlpGrpcSink

        return OtlpGrpcSink(dest)
    if dest.kind == destination_mod.OTLP:
        from otel_cli_telemetry._exporter.sinks.otlp import OtlpHttpSink

        return OtlpHttpSink(dest)
    if dest.kind == destination_mod.DATADOG:
        from otel_cli_telemetry._exporter.sinks.datadog import DatadogLogsSink

        return DatadogLogsSink(dest)
    if dest.kind == destination_mod.POSTHOG:
        from otel_cli_telemetry._exporter.sinks.posthog import PostHogSink

        return PostHogSink(dest)
    from otel_cli_telemetry._exporter.sinks.file import FileSink

    return FileSink(paths.sink_file, max_bytes=dest.file_max_bytes)


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
    withdrawn: Callable[[], str | None] | None = None,
) -> Report:
    """Deliver everything in the spool that the time allows.

    ``withdrawn`` is asked before each batch: a reason (consent was withdrawn, or narrowed
    to local-only, since the trace was queued) drops the whole queue, counted.
    """
    report = Report()
    end = clock() + (deadline_s if deadline_s is not None else dest.deadline_s)
    target = sink or make_sink(dest, paths)
    lock = state.FileLock(paths.export_lock)
    try:
        first = True
        while clock() < end:
            wait = lock_wait_s if first else 0.0
            if not lock.acquire(timeout=min(wait, max(0.0, end - clock()))):
                # Someone else is draining, and will re-check the spool when done.
                report.locked_out = first
                break
            first = False
            before = progress_of(report)
            try:
                stopped_early = _drain_locked(
                    paths, target, report, end, clock, wall, sleep, respect_backoff, progress,
                    withdrawn,
                )  # fmt: skip
            finally:
                lock.release()
            if stopped_early or report.backing_off or report.last_error == SPOOL_STUCK:
                break
            # Re-check after letting go: a command may have spooled a trace after our last
            # look while it saw the lock held, and so started no exporter of its own.
            if not spool.entries(paths.spool_dir) or progress_of(report) == before:
                break
    finally:
        target.shutdown()
    report.remaining = len(spool.entries(paths.spool_dir))
    return report


def progress_of(report: Report) -> int:
    """Traces dealt with so far (delivered or dropped): how a caller sees a pass stall."""
    return report.delivered + sum(report.dropped.values())


def _record(paths: state.Paths, change: Callable[[delivery.DeliveryState], None]) -> None:
    delivery.update_quietly(paths.delivery_file, paths.state_lock, change)


def _drain_locked(
    paths: state.Paths,
    sink: Sink,
    report: Report,
    end: float,
    clock: Callable[[], float],
    wall: Callable[[], float],
    sleep: Callable[[float], None],
    respect_backoff: bool,
    progress: Callable[[Report], None] | None,
    withdrawn: Callable[[], str | None] | None = None,
) -> bool:
    """One pass over the spool while holding the lock; True if it stopped early."""
    if respect_backoff and delivery.load(paths.delivery_file).in_backoff(wall()):
        report.backing_off = True
        return False
    dropped = spool.enforce_caps(paths.spool_dir)
    if dropped:
        _record(
            paths, functools.partial(_add_drops, drops={f"cap_{k}": v for k, v in dropped.items()})
        )
        for reason, count in dropped.items():
            report.dropped[f"cap_{reason}"] = report.dropped.get(f"cap_{reason}", 0) + count
    entries = spool.entries(paths.spool_dir)
    max_items = sink.max_batch_traces
    for batch in spool.iter_batches(entries, max_bytes=MAX_BATCH_BYTES, max_items=max_items):
        if clock() >= end:
            return True
        why = withdrawn() if withdrawn is not None else None
        if why is not None:
            _drop_withdrawn(paths, report, why)
            return True
        good, requests = _read_batch(paths, batch, report)
        if not requests:
            continue
        reported = _report_drops(requests, delivery.load(paths.delivery_file).unreported)
        send = _Sender(paths, sink, report, end, clock, wall, sleep, reported)
        stop = send.deliver(good, requests)
        if progress is not None:
            progress(report)
        if stop:
            return False
    return False


class _Sender:
    """Sends one batch with retries; splits a batch refused with ``Result.split`` to isolate
    the bad trace."""

    def __init__(
        self,
        paths: state.Paths,
        sink: Sink,
        report: Report,
        end: float,
        clock: Callable[[], float],
        wall: Callable[[], float],
        sleep: Callable[[float], None],
        reported: tuple[int, dict[str, int]] | None,
    ) -> None:
        self.paths = paths
        self.sink = sink
        self.report = report
        self.end = end
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        #: (id of the request carrying the loss report, what it reports)
        self.reported = reported

    def _export(self, requests: list[dict[str, Any]]) -> Result:
        # A sink that raises (a broken installation, not bad data) ends the run: the
        # exporter records the failure and the spool keeps everything.
        return self.sink.export(requests, timeout_s=max(0.05, self.end - self.clock()))

    def deliver(self, entries: list[spool.Entry], requests: list[dict[str, Any]]) -> bool:
        """True if the drain must stop (backing off, or the spool cannot be cleaned)."""
        attempts = 0
        while True:
            attempts += 1
            self.report.attempts += 1
            result = self._export(requests)
            if result.status is not ExportResult.RETRY:
                break
            wait = _on_retryable(self.paths, result, self.wall)
            self.report.last_error = result.reason
            if attempts < MAX_ATTEMPTS_PER_RUN and self.clock() + wait + 0.5 < self.end:
                self.sleep(wait)
                continue
            self.report.backing_off = True
            return True
        if result.status is ExportResult.FAILURE and result.unencodable:
            bad = set(result.unencodable)
            for index in sorted(bad):
                spool.quarantine(entries[index], self.paths.quarantine_dir)
            self._count_drop("unencodable", len(bad))
            rest = [i for i in range(len(entries)) if i not in bad]
            if not rest:
                return False
            return self.deliver([entries[i] for i in rest], [requests[i] for i in rest])
        if result.status is ExportResult.FAILURE and result.split and len(entries) > 1:
            half = len(entries) // 2
            if self.deliver(entries[:half], requests[:half]):
                return True
            if self.clock() >= self.end:
                return True
            return self.deliver(entries[half:], requests[half:])
        removed = [spool.remove(entry) for entry in entries]
        if result.status is ExportResult.SUCCESS:
            self.report.delivered += len(entries)
            reported: dict[str, int] = {}
            if self.reported is not None and any(id(r) == self.reported[0] for r in requests):
                reported = self.reported[1]
            _record(
                self.paths,
                functools.partial(
                    _on_accepted, count=len(entries), result=result, reported=reported
                ),
            )
        else:
            reason = f"refused_{result.reason}"
            self.report.dropped[reason] = self.report.dropped.get(reason, 0) + len(entries)
            _record(self.paths, functools.partial(_on_refused, drops={reason: len(entries)}))
        if not all(removed):
            self.report.last_error = SPOOL_STUCK
            return True
        return False

    def _count_drop(self, reason: str, count: int) -> None:
        self.report.dropped[reason] = self.report.dropped.get(reason, 0) + count
        _record(self.paths, functools.partial(_add_drops, drops={reason: count}))


def _read_batch(
    paths: state.Paths, batch: list[spool.Entry], report: Report
) -> tuple[list[spool.Entry], list[dict[str, Any]]]:
    good: list[spool.Entry] = []
    requests: list[dict[str, Any]] = []
    for entry in batch:
        try:
            requests.append(spool.read(entry))
            good.append(entry)
        except FileNotFoundError:
            continue
        except (ValueError, OSError):
            spool.quarantine(entry, paths.quarantine_dir)
            report.dropped["corrupt"] = report.dropped.get("corrupt", 0) + 1
            _record(paths, functools.partial(_add_drops, drops={"corrupt": 1}))
    return good, requests


def _report_drops(
    requests: list[dict[str, Any]], unreported: dict[str, int]
) -> tuple[int, dict[str, int]] | None:
    """Make earlier losses visible: annotate the first command span of the batch with the
    number of traces dropped since the last report, and why. Returns which request carries
    the report (by id) and what it reports, once that request is delivered."""
    if not unreported:
        return None
    reasons = [f"{k}={v}" for k, v in sorted(unreported.items())]
    for request in requests:
        for _, span in iter_spans([request]):
            if not is_command_span(span):
                continue
            span["attributes"].append(
                {
                    "key": attributes.DROPPED_TRACES,
                    "value": {"intValue": str(sum(unreported.values()))},
                }
            )
            span["attributes"].append(
                {
                    "key": attributes.DROPPED_REASONS,
                    "value": {"arrayValue": {"values": [{"stringValue": r} for r in reasons]}},
                }
            )
            return id(request), dict(unreported)
    return None


def _drop_withdrawn(paths: state.Paths, report: Report, reason: str) -> None:
    """Delete the queue the user no longer lets us send; counted (not reported on a later
    span: that the user said no is nobody's business)."""
    from otel_cli_telemetry._disk import forget

    count = forget.drop_queue(paths.spool_dir)
    report.dropped[reason] = report.dropped.get(reason, 0) + count

    def change(s: delivery.DeliveryState) -> None:
        s.dropped[reason] = s.dropped.get(reason, 0) + count

    if count:
        _record(paths, change)


def _add_drops(s: delivery.DeliveryState, drops: dict[str, int]) -> None:
    s.add_drops(drops)


def _on_refused(s: delivery.DeliveryState, drops: dict[str, int]) -> None:
    s.attempts += 1
    s.add_drops(drops)


def _on_accepted(
    s: delivery.DeliveryState, count: int, result: Result, reported: dict[str, int]
) -> None:
    s.attempts += 1
    s.mark_reported(reported)
    s.failures = 0
    s.next_attempt_at = 0.0
    s.last_error = None
    s.delivered += count
    if result.rejected_spans:
        _add_drops(s, {"partial_success_rejected_spans": result.rejected_spans})


def _on_retryable(paths: state.Paths, result: Result, wall: Callable[[], float]) -> float:
    """Persist the back-off for this failure and return how long to wait."""
    waits: list[float] = []

    def change(s: delivery.DeliveryState) -> None:
        s.attempts += 1
        s.failures += 1
        wait = result.retry_after_s
        if wait is None:
            wait = delivery.backoff_delay(s.failures)
        s.next_attempt_at = wall() + wait
        s.last_error = result.reason
        waits.append(wait)

    _record(paths, change)
    return waits[0] if waits else delivery.backoff_delay(1)


def drain_all(
    paths: state.Paths,
    destinations: list[destination_mod.Destination],
    *,
    timeout_s: float,
    progress: Callable[[Report], None] | None = None,
    withdrawn: Callable[[destination_mod.Destination], str | None] | None = None,
) -> Report:
    """Drain every destination's queue in the foreground (``flush``): waits for a running
    drainer, ignores the back-off, stops at ``timeout_s`` overall."""
    total = Report()
    end = time.monotonic() + timeout_s
    for queue_paths, dest in destination_mod.queues(paths, destinations):
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
