"""One drain's run: the report it fills, and the context it hands to whatever sends a
batch (``batch``). Apart from ``drain`` so that ``batch`` and ``drain`` both depend on it,
and not on each other."""

from __future__ import annotations

import os
import time

from otel_cli_telemetry._disk import delivery, spool
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from otel_cli_telemetry._disk import state
    from otel_cli_telemetry._exporter.sinks import Sink

__all__ = ["Report", "Run", "progress_of"]


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
