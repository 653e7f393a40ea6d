"""What an idle exporter child looks at while it waits for the next command's trace: a few
``stat`` calls, no listing and no parsing until something changed."""

from __future__ import annotations

import os

from otel_cli_telemetry._disk import delivery, inventory, spool, state
from otel_cli_telemetry._disk import destination as destination_mod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

Queue = tuple[state.Paths, destination_mod.Destination]


class Watch:
    """The mtimes of the state dir and of every spool directory. A command that spools a
    trace renames a file into its spool directory, which changes that directory's mtime; one
    recorded for a destination with no queue yet writes that queue's record into the state
    dir, and the queues are then read again (``at`` is told, for the failure record)."""

    def __init__(
        self, paths: state.Paths, items: list[Queue], at: Callable[[str], None] | None = None
    ) -> None:
        self.paths, self.items, self.at = paths, items, at
        self.seen = self._stamps()

    def _stamps(self) -> list[int | None]:
        found: list[int | None] = []
        for path in [self.paths.home] + [q.spool_dir for q, _ in self.items]:
            try:
                found.append(os.stat(path, follow_symlinks=False).st_mtime_ns)
            except OSError:
                found.append(None)
        return found

    def changed(self) -> bool:
        """True (once) when a spool directory or the state dir changed since last asked."""
        now = self._stamps()
        if now == self.seen:
            return False
        if now[0] != self.seen[0]:
            if self.at is not None:
                self.at("reload_queues")
            # Each queue still goes only to the destination its record names.
            self.items = inventory.recorded(self.paths) or self.items
            now = self._stamps()
        self.seen = now
        return True

    def wait(
        self,
        blocked: set[str],
        seconds: float,
        poll_s: float,
        clock: Callable[[], float],
        wall: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> bool:
        """Wait up to ``seconds`` for new work; True if some arrived. The spools are listed
        once (work may have come while we drained), then only after a change is seen."""
        until = clock() + seconds
        if work_waiting(self.items, blocked, wall):
            return True
        while clock() < until:
            sleep(min(poll_s, max(until - clock(), 0.0)))
            if self.changed() and work_waiting(self.items, blocked, wall):
                return True
        return False


def work_waiting(items: list[Queue], blocked: set[str], wall: Callable[[], float]) -> bool:
    """True if some destination that may send now (not ``blocked``, not backing off) has
    spooled traces."""
    for queue_paths, _ in items:
        if queue_paths.queue in blocked:
            continue
        if spool.entries(queue_paths.spool_dir) and not delivery.load(
            queue_paths.delivery_file
        ).in_backoff(wall()):
            return True
    return False


def unusable(items: list[Queue]) -> set[str]:
    """The queues of a destination that cannot be used (its traces wait; ``status`` says
    why)."""
    return {q.queue for q, dest in items if dest.problem}
