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

The child writes ``{"pid", "started", "deadline"}`` (wall-clock seconds) into the marker.
A child that still holds the lock past its deadline plus ``OVERDUE_GRACE_S`` cannot be
working: it was stopped (SIGSTOP, a debugger, a suspended laptop). Its own deadline timer
cannot fire while it is stopped, so the next command ends it (the lock proves the pid is
alive and is the one that wrote the marker: no pid-reuse risk) and takes over; the kernel
drops its locks, so the export lock of the queue it was sending is free again.

A marker that is not a regular file of ours (a directory, a link, a FIFO) is an impostor:
it is moved aside and the claim goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import IO

from . import _fs, state

MARKER = "exporter.pid"
#: How long a freshly claimed marker waits for its child to start.
STARTUP_GRACE_S = 5.0
#: Commands probe the marker's lock for an instant; a child waits this long past a probe.
PROBE_WAIT_S = 0.5
#: How far past its recorded deadline a locked marker's child is taken to be stopped.
OVERDUE_GRACE_S = 5.0


def marker_path(paths: state.Paths) -> Path:
    return paths.home / MARKER


def _create_exclusive(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _fs.NOFOLLOW | _fs.CLOEXEC, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def read_marker(path: Path) -> dict[str, float]:
    """What the child wrote into the marker: ``pid``, ``started``, ``deadline`` (or {})."""
    try:
        data = json.loads(_fs.read_bytes(path, 256))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: float(v)
        for k, v in data.items()
        if k in ("pid", "started", "deadline")
        and isinstance(v, (int, float))
        and not isinstance(v, bool)
    }


def _is_impostor(path: Path) -> bool:
    try:
        os.close(_fs.open_regular(path, os.O_RDONLY))
    except _fs.NotRegularFile:
        return True
    except OSError:
        return False
    return False


def is_stale(path: Path, *, now: float | None = None) -> bool:
    """True if the marker exists but no live child stands behind it."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if _is_impostor(path):
        return True
    if state.is_locked(path):
        return False
    if st.st_size > 0:  # a child started (wrote its pid) and no longer holds the lock
        return True
    return (now if now is not None else time.time()) - st.st_mtime > STARTUP_GRACE_S


def overdue_pid(path: Path, *, now: float | None = None) -> int | None:
    """The pid of a child that holds the marker past its deadline plus the grace period."""
    info = read_marker(path)
    pid, deadline = int(info.get("pid", 0)), info.get("deadline")
    if pid <= 0 or pid == os.getpid() or deadline is None:
        return None
    if (now if now is not None else time.time()) < deadline + OVERDUE_GRACE_S:
        return None
    return pid if state.is_locked(path) else None


def _end(pid: int) -> bool:
    import signal

    try:
        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    except (ProcessLookupError, PermissionError, OSError):
        return False
    return True


def claim(paths: state.Paths, *, now: float | None = None) -> bool:
    """Claim the right to start an exporter child. False if one exists or is starting.

    A stopped child past its deadline is ended and replaced (see the module docstring).
    """
    path = marker_path(paths)
    if _create_exclusive(path):
        return True
    if is_stale(path, now=now):
        _fs.move_aside(path)
        return _create_exclusive(path)
    pid = overdue_pid(path, now=now)
    if pid is not None and _end(pid):
        from . import delivery

        delivery.record_drops(paths.delivery_file, paths.state_lock, {}, takeovers=1)
        _fs.move_aside(path)
        return _create_exclusive(path)
    return False


def release_claim(paths: state.Paths) -> None:
    """Give back a claim whose child could not be started."""
    with contextlib.suppress(FileNotFoundError):
        marker_path(paths).unlink()


class ChildMarker:
    """The child's side: hold the marker's lock while alive, with our pid in it."""

    def __init__(self, paths: state.Paths, *, deadline_s: float = 10.0) -> None:
        self.path = marker_path(paths)
        self._lock = state.FileLock(self.path)
        self._owned = False
        self._started = time.time()
        self._deadline = self._started + deadline_s

    def adopt(self) -> bool:
        """Take over the marker our parent created (or create it). False if another
        child already holds it: then this one has nothing to do."""
        if _is_impostor(self.path):
            _fs.move_aside(self.path)
        if not os.path.lexists(self.path) and not _create_exclusive(self.path):
            return False
        # A command may be probing the lock this very moment: ride that out.
        if not self._lock.acquire(timeout=PROBE_WAIT_S):
            return False
        self._owned = True
        self._write_pid()
        return True

    def _write_pid(self) -> None:
        fh: IO[bytes] | None = self._lock.file
        if fh is not None:
            record = {"pid": os.getpid(), "started": self._started, "deadline": self._deadline}
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(record).encode())
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
