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

import os
import time

from otel_cli_telemetry._disk import fs as _fs
from otel_cli_telemetry._disk import jsontext, state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO

    from otel_cli_telemetry._disk.fs import StrPath

MARKER = "exporter.pid"
#: How long a freshly claimed marker waits for its child to start.
STARTUP_GRACE_S = 5.0
#: Commands probe the marker's lock for an instant; a child waits this long past a probe.
PROBE_WAIT_S = 0.5
#: How far past its recorded deadline a locked marker's child is taken to be stopped.
OVERDUE_GRACE_S = 5.0


def marker_path(paths: "state.Paths") -> str:
    return os.path.join(paths.home, MARKER)


def _create_exclusive(path: "StrPath") -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _fs.NOFOLLOW | _fs.CLOEXEC, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


_MARKER_KEYS = ("pid", "started", "deadline", "boot", "pidns", "ticks")


def read_marker(path: "StrPath") -> dict[str, float | str]:
    """What the child wrote into the marker: ``pid``, ``started``, ``deadline`` and, on
    Linux, who it is (``boot``, ``pidns``, ``ticks``); {} if unreadable."""
    return _parse_marker(_read_marker(path)[0])


def _read_marker(path: "StrPath") -> tuple[bytes, int | None]:
    """The marker's bytes and inode, read through one descriptor."""
    try:
        fd = _fs.open_regular(path, os.O_RDONLY)
    except (OSError, ValueError):
        return b"", None
    try:
        return os.read(fd, 512), os.fstat(fd).st_ino
    except OSError:
        return b"", None
    finally:
        os.close(fd)


def _parse_marker(raw: bytes) -> dict[str, float | str]:
    try:
        data = jsontext.loads(raw)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    result: dict[str, float | str] = {}
    for key in _MARKER_KEYS:
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            result[key] = float(value)
        elif isinstance(value, str) and len(value) <= 64:
            result[key] = value
    return result


# --- who a pid is (Linux): what makes ending a stopped exporter safe -----------------


def _read_text(path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | _fs.CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 1 << 16).decode("ascii", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def identity(pid: int | str = "self") -> dict[str, str]:
    """Boot id, pid namespace and start time (clock ticks) of ``pid``; {} off Linux."""
    boot = _read_text("/proc/sys/kernel/random/boot_id")
    stat_line = _read_text(f"/proc/{pid}/stat")
    try:
        pidns = str(os.stat(f"/proc/{pid}/ns/pid").st_ino)
    except OSError:
        return {}
    if not boot or not stat_line or ")" not in stat_line:
        return {}
    fields = stat_line.rsplit(")", 1)[1].split()
    if len(fields) < 20:
        return {}
    return {"boot": boot.strip(), "pidns": pidns, "ticks": fields[19]}


def _holds_flock(pid: int, inode: int) -> bool:
    """True if ``/proc/locks`` lists ``pid`` holding a flock on inode ``inode``."""
    locks = _read_text("/proc/locks") or ""
    for line in locks.splitlines():
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 23527 00:2a:12345 0 EOF"
        if (
            len(parts) >= 6
            and parts[1] == "FLOCK"
            and parts[4] == str(pid)
            and parts[5].rsplit(":", 1)[-1] == str(inode)
        ):
            return True
    return False


def overdue_pid(path: "StrPath", *, now: float | None = None) -> int | None:
    """The pid of a child that holds the marker past its deadline plus the grace period,
    when it can be proven to be that child; None otherwise (then nobody is ended).

    Proof, Linux only: the kernel lists that pid holding the lock on this very marker
    (``/proc/locks``, same inode as the bytes just read), and the pid's boot id, pid
    namespace and start time are the ones the child wrote. That rules out a pid reused
    since, a holder in another pid namespace (a container sharing the home) or another
    host (a network home, where clocks may differ too).
    """
    raw, inode = _read_marker(path)
    info = _parse_marker(raw)
    pid, deadline = int(info.get("pid", 0) or 0), info.get("deadline")
    if pid <= 0 or pid == os.getpid() or not isinstance(deadline, float) or inode is None:
        return None
    if (now if now is not None else time.time()) < deadline + OVERDUE_GRACE_S:
        return None
    expected = {k: str(info.get(k, "")) for k in ("boot", "pidns", "ticks")}
    if not all(expected.values()) or identity(pid) != expected:
        return None
    mine = identity()
    if mine.get("boot") != expected["boot"] or mine.get("pidns") != expected["pidns"]:
        return None
    return pid if _holds_flock(pid, inode) else None


def _is_impostor(path: "StrPath") -> bool:
    try:
        os.close(_fs.open_regular(path, os.O_RDONLY))
    except _fs.NotRegularFile:
        return True
    except OSError:
        return False
    return False


def is_stale(path: "StrPath", *, now: float | None = None) -> bool:
    """True if the marker exists but no live child stands behind it."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if _is_impostor(path):
        return True
    from otel_cli_telemetry._disk import locks

    if locks.is_locked(path):
        return False
    if st.st_size > 0:  # a child started (wrote its pid) and no longer holds the lock
        return True
    return (now if now is not None else time.time()) - st.st_mtime > STARTUP_GRACE_S


def _end(pid: int) -> bool:
    import signal

    try:
        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    except (ProcessLookupError, PermissionError, OSError):
        return False
    return True


def claim(paths: "state.Paths", *, now: float | None = None) -> bool:
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
        from otel_cli_telemetry._disk import delivery

        delivery.record_drops(paths.delivery_file, paths.state_lock, {}, takeovers=1)
        _fs.move_aside(path)
        return _create_exclusive(path)
    return False


def release_claim(paths: "state.Paths") -> None:
    """Give back a claim whose child could not be started."""
    with _fs.suppress(FileNotFoundError):
        os.unlink(marker_path(paths))


class ChildMarker:
    """The child's side: hold the marker's lock while alive, with our pid in it."""

    def __init__(self, paths: "state.Paths", *, deadline_s: float = 10.0) -> None:
        self.path = marker_path(paths)
        from otel_cli_telemetry._disk import locks

        self._lock = locks.FileLock(self.path)
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
        if not _create_exclusive(self.path):
            return False
        self._owned = True
        if not self._lock.acquire(timeout=PROBE_WAIT_S):
            self.give_up()
            return False
        self._write_pid()
        return True
