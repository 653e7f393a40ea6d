"""At most one exporter child per app and user, without ever stranding a spooled trace.

The marker file ``exporter.pid`` means "an exporter child exists". A CLI process creates it
(``O_EXCL``: of many commands started at once, exactly one wins) before starting a child;
the child locks it for its whole life and writes its pid into it. A marker is *stale*, and
may be taken over, when nobody holds its lock and either a child already wrote its pid
(so that child has exited or was killed, ``kill -9`` included: the kernel drops the lock)
or no child picked it up within ``STARTUP_GRACE_S``.

The ordering that keeps a late trace from being stranded:

- a command writes its spool file, *then* tries to claim the marker;
- the child removes the marker, *then* looks at the spool one last time, and carries on
  if it finds work and can claim the marker again.

Whichever happens second sees the other's work. So at any moment there is at most one
child that owns the marker, plus possibly one that is on its way out: two processes.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import IO

from . import state

MARKER = "exporter.pid"
#: How long a freshly claimed marker waits for its child to start.
STARTUP_GRACE_S = 5.0
#: Commands probe the marker's lock for an instant; a child waits this long past a probe.
PROBE_WAIT_S = 0.5


def marker_path(paths: state.Paths) -> Path:
    return paths.home / MARKER


def _create_exclusive(path: Path) -> bool:
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
    except FileExistsError:
        return False
    os.close(fd)
    return True


def is_stale(path: Path, *, now: float | None = None) -> bool:
    """True if the marker exists but no live child stands behind it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    if state.is_locked(path):
        return False
    if st.st_size > 0:  # a child started (wrote its pid) and no longer holds the lock
        return True
    return (now if now is not None else time.time()) - st.st_mtime > STARTUP_GRACE_S


def claim(paths: state.Paths) -> bool:
    """Claim the right to start an exporter child. False if one exists or is starting."""
    path = marker_path(paths)
    if _create_exclusive(path):
        return True
    if is_stale(path):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return _create_exclusive(path)
    return False


def release_claim(paths: state.Paths) -> None:
    """Give back a claim whose child could not be started."""
    with contextlib.suppress(FileNotFoundError):
        marker_path(paths).unlink()


class ChildMarker:
    """The child's side: hold the marker's lock while alive, with our pid in it."""

    def __init__(self, paths: state.Paths) -> None:
        self.path = marker_path(paths)
        self._lock = state.FileLock(self.path)
        self._owned = False

    def adopt(self) -> bool:
        """Take over the marker our parent created (or create it). False if another
        child already holds it: then this one has nothing to do."""
        if not self.path.exists() and not _create_exclusive(self.path):
            return False
        # A command may be probing the lock this very moment: ride that out.
        if not self._lock.acquire(timeout=PROBE_WAIT_S):
            return False
        self._owned = True
        self._write_pid()
        return True

    def _write_pid(self) -> None:
        fh: IO[bytes] | None = getattr(self._lock, "_fh", None)
        if fh is not None:
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()).encode())
            fh.flush()

    def give_up(self) -> None:
        """Remove the marker, then let go of its lock (in that order: a command that sees
        no marker may start a new child at once)."""
        if self._owned:
            self._owned = False
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self._lock.release()

    def reclaim(self) -> bool:
        """After ``give_up``: claim the marker again if nobody else did meanwhile."""
        if not _create_exclusive(self.path):
            return False
        self._owned = True
        if not self._lock.acquire(timeout=PROBE_WAIT_S):
            self.give_up()
            return False
        self._write_pid()
        return True
