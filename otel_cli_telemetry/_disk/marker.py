"""At most one exporter child per app and user, without ever stranding a spooled trace.

The marker file ``exporter.pid`` means "an exporter child exists". A CLI process creates it
(``O_EXCL``: of many commands started at once, exactly one wins) before starting a child;
the child locks it for its whole life and writes its pid into it. When the marker exists,
``takeover`` decides whether it is stale (nobody behind it) or its child stopped, and may
be replaced.

The ordering that keeps a late trace from being stranded:

- a command writes its spool file, *then* tries to claim the marker;
- the child removes the marker, *then* looks at the spool one last time, and carries on
  if it finds work: it claims the marker again or, out of time, claims it as a command
  would and starts its successor (``_exporter.successor``).

Whichever happens second sees the other's work. So at any moment there is at most one
child that owns the marker, plus possibly one that is on its way out: two processes.

The child writes ``{"pid", "started", "deadline"}`` (wall-clock seconds) and, on Linux, who
it is (boot id, pid namespace, start time) into the marker.

A marker that is not a regular file of ours (a directory, a link, a FIFO) is an impostor:
it is moved aside and the claim goes on.

This module is the command's side (the claim); the child's (``ChildMarker``: adopt, give
up, reclaim) is ``child_marker``.
"""

import os
import time

from otel_cli_telemetry._disk import fs as _fs
from otel_cli_telemetry._disk import jsontext, state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._disk.fs import StrPath

MARKER = "exporter.pid"


def marker_path(paths: "state.Paths") -> str:
    return os.path.join(paths.home, MARKER)


def create_exclusive(path: "StrPath") -> bool:
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
    return parse_marker(read_raw(path)[0])


def read_raw(path: "StrPath") -> tuple[bytes, int | None]:
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


def parse_marker(raw: bytes) -> dict[str, float | str]:
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


def claim(paths: "state.Paths", *, now: float | None = None) -> bool:
    """Claim the right to start an exporter child. False if one exists or is starting.

    A stopped child past its deadline is ended and replaced (see the module docstring).
    """
    path = marker_path(paths)
    if create_exclusive(path):
        return True
    if _running_child(read_raw(path)[0], time.time() if now is None else now):
        return False  # the common case while an exporter waits for commands: nothing loaded
    from otel_cli_telemetry._disk.takeover import end_stopped, is_stale, overdue_pid

    if is_stale(path, now=now):
        _fs.move_aside(path)
        return create_exclusive(path)
    raw, inode = read_raw(path)
    pid = overdue_pid(parse_marker(raw), inode, now=now)
    if pid is not None and end_stopped(pid):
        from otel_cli_telemetry._disk import delivery

        delivery.record_drops(paths.delivery_file, paths.state_lock, {}, takeovers=1)
        _fs.move_aside(path)
        return create_exclusive(path)
    return False


def _proc_text(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(4096).decode("ascii", "replace")
    except OSError:
        return ""


def _running_child(raw: bytes, now: float) -> bool:
    """True when the marker names a child that is running now, before its deadline: the
    process with the pid it wrote is, on Linux, that very one (same boot, pid namespace and
    start time), and neither a zombie nor dead. Such a child holds the marker's lock for its
    whole life, so the lock need not be probed. Anything else (another system, no pid yet,
    past the deadline, a pid reused) says False and the full checks of ``takeover`` decide."""
    info = parse_marker(raw)
    pid, deadline = info.get("pid"), info.get("deadline")
    boot, pidns, ticks = info.get("boot"), info.get("pidns"), info.get("ticks")
    if not (isinstance(pid, float) and isinstance(deadline, float) and now < deadline):
        return False
    if not (isinstance(boot, str) and isinstance(pidns, str) and isinstance(ticks, str)):
        return False
    stat = _proc_text(f"/proc/{int(pid)}/stat")
    fields = stat.rsplit(")", 1)[-1].split() if ")" in stat else []
    if len(fields) < 20 or fields[0] in ("Z", "X", "x") or fields[19] != ticks:
        return False
    try:
        same_ns = str(os.stat(f"/proc/{int(pid)}/ns/pid").st_ino) == pidns
    except OSError:
        return False
    return same_ns and _proc_text("/proc/sys/kernel/random/boot_id").strip() == boot


def release_claim(paths: "state.Paths") -> None:
    """Give back a claim whose child could not be started."""
    with _fs.suppress(FileNotFoundError):
        os.unlink(marker_path(paths))
