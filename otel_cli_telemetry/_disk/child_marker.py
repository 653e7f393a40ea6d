"""The exporter child's side of the marker (``marker`` has the rules and the command's
claim): hold the marker's lock while alive, with its pid and identity in it, remove it on
the way out, and claim it again when late work turns up."""

import os
import time

from otel_cli_telemetry._disk import fs as _fs
from otel_cli_telemetry._disk import jsontext, marker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO

    from otel_cli_telemetry._disk import state

#: Commands probe the marker's lock for an instant; a child waits this long past a probe.
PROBE_WAIT_S = 0.5


class ChildMarker:
    """The child's side: hold the marker's lock while alive, with our pid in it."""

    def __init__(self, paths: "state.Paths", *, deadline_s: float = 10.0) -> None:
        self.path = marker.marker_path(paths)
        from otel_cli_telemetry._disk import locks

        self._lock = locks.FileLock(self.path)
        self._owned = False
        self._started = time.time()
        self._deadline = self._started + deadline_s

    def adopt(self) -> bool:
        """Take over the marker our parent created (or create it). False if another
        child already holds it: then this one has nothing to do."""
        from otel_cli_telemetry._disk.takeover import is_impostor

        if is_impostor(self.path):
            _fs.move_aside(self.path)
        if not os.path.lexists(self.path) and not marker.create_exclusive(self.path):
            return False
        # A command may be probing the lock this very moment: ride that out.
        if not self._lock.acquire(timeout=PROBE_WAIT_S):
            return False
        self._owned = True
        self._write_pid()
        return True

    def _write_pid(self) -> None:
        from otel_cli_telemetry._disk.takeover import identity

        fh: IO[bytes] | None = self._lock.file
        if fh is not None:
            record: dict[str, float | str] = {
                "pid": os.getpid(),
                "started": self._started,
                "deadline": self._deadline,
                **identity(),
            }
            fh.seek(0)
            fh.truncate()
            fh.write(jsontext.dumps(record, allow_nan=True).encode())
            fh.flush()

    def give_up(self) -> None:
        """Remove the marker, then let go of its lock (in that order: a command that sees
        no marker may start a new child at once)."""
        if self._owned:
            self._owned = False
            with _fs.suppress(FileNotFoundError):
                os.unlink(self.path)
        self._lock.release()

    def reclaim(self) -> bool:
        """After ``give_up``: claim the marker again if nobody else did meanwhile."""
        if not marker.create_exclusive(self.path):
            return False
        self._owned = True
        if not self._lock.acquire(timeout=PROBE_WAIT_S):
            self.give_up()
            return False
        self._write_pid()
        return True
