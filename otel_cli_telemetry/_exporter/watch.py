"""What an idle exporter child looks at while it waits for the next command's trace: a few
``stat`` calls, no listing and no parsing until something changed."""

from __future__ import annotations

import os

from otel_cli_telemetry._disk import destination as destination_mod
from otel_cli_telemetry._disk import inventory, state

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
