"""When the marker already exists: is a child behind it, and may a stopped one be ended?

``marker.claim`` asks only when its ``O_EXCL`` create fails, so a command that finds no
exporter never loads this. A marker is *stale* when nobody holds its lock and either a
child already wrote its pid (it has exited or was killed, ``kill -9`` included: the kernel
drops the lock) or no child picked it up within ``STARTUP_GRACE_S``.

A child that still holds the lock past its deadline plus ``OVERDUE_GRACE_S`` cannot be
working: it was stopped (SIGSTOP, a debugger, a suspended laptop), and its own deadline
timer cannot fire while it is stopped. The next command ends it, but only on proof that the
pid is that very child (``overdue_pid``), and takes over; the kernel drops its locks, so the
export lock of the queue it was sending is free again.
"""

import os
import time

from otel_cli_telemetry._disk import fs as _fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._disk.fs import StrPath

#: How long a freshly claimed marker waits for its child to start.
STARTUP_GRACE_S = 5.0
#: How far past its recorded deadline a locked marker's child is taken to be stopped.
OVERDUE_GRACE_S = 5.0


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


def overdue_pid(
    info: "dict[str, float | str]", inode: int | None, *, now: float | None = None
) -> int | None:
    """The pid of a child that holds the marker past its deadline plus the grace period,
    when it can be proven to be that child; None otherwise (then nobody is ended).
    ``info`` is the marker as ``marker.parse_marker`` read it, ``inode`` the marker's inode
    when read (this module never imports ``marker``: the dependency points one way).

    Proof, Linux only: the kernel lists that pid holding the lock on this very marker
    (``/proc/locks``, same inode as the bytes just read), and the pid's boot id, pid
    namespace and start time are the ones the child wrote. That rules out a pid reused
    since, a holder in another pid namespace (a container sharing the home) or another
    host (a network home, where clocks may differ too).
    """
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


def is_impostor(path: "StrPath") -> bool:
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
    if is_impostor(path):
        return True
    from otel_cli_telemetry._disk import locks

    if locks.is_locked(path):
        return False
    if st.st_size > 0:  # a child started (wrote its pid) and no longer holds the lock
        return True
    return (now if now is not None else time.time()) - st.st_mtime > STARTUP_GRACE_S


def end_stopped(pid: int) -> bool:
    """End a stopped exporter that ``overdue_pid`` proved to be ours (SIGKILL)."""
    import signal

    try:
        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    except (ProcessLookupError, PermissionError, OSError):
        return False
    return True
