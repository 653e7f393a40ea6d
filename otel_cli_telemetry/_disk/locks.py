"""Advisory file locks: exclusive, never waited on for long, dropped by the kernel when
their holder dies (``kill -9`` included), so a stale lock can always be taken over.

Read-modify-write cycles on the state files hold one; the exporter marker is one.
"""

import os
import sys
import time

from otel_cli_telemetry._disk import fs as _fs
from otel_cli_telemetry._disk.fs import NotRegularFile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO

    from otel_cli_telemetry._disk.fs import StrPath


def _open_lock(path: "StrPath", *, create: bool = True) -> "IO[bytes]":
    """Open a lock file; an impostor (link, FIFO, directory) in its place is moved aside
    once when we may create the file, else NotRegularFile."""
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        fd = _fs.open_regular(path, flags)
    except NotRegularFile:
        if not create:
            raise
        _fs.move_aside(path)
        fd = _fs.open_regular(path, flags)
    return os.fdopen(fd, "r+b")


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fh: "IO[bytes]") -> bool:
        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fh: "IO[bytes]") -> None:
        with _fs.suppress(OSError):
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fh: "IO[bytes]") -> bool:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fh: "IO[bytes]") -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class FileLock:
    """An exclusive advisory lock on a file; the OS drops it if the holder dies."""

    def __init__(self, path: "StrPath", *, create: bool = True) -> None:
        self.path = path
        self._create = create
        self._fh: IO[bytes] | None = None

    def acquire(self, timeout: float = 0.0, *, poll: float = 0.02) -> bool:
        """Try to take the lock for up to ``timeout`` seconds; True when held."""
        if self._fh is not None:
            return True
        fh = _open_lock(self.path, create=self._create)
        deadline = time.monotonic() + timeout
        while True:
            if _try_lock(fh):
                self._fh = fh
                return True
            if time.monotonic() >= deadline:
                fh.close()
                return False
            time.sleep(poll)

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                _unlock(fh)
            finally:
                fh.close()

    @property
    def held(self) -> bool:
        return self._fh is not None

    @property
    def file(self) -> "IO[bytes] | None":
        """The open lock file while held (the exporter marker writes its record into it)."""
        return self._fh

    def __enter__(self) -> "FileLock":
        if not self.acquire(timeout=5.0):
            raise TimeoutError(f"could not lock {os.path.basename(self.path)}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(path: "StrPath") -> bool:
    """True if another process holds the lock on ``path`` right now (never creates it)."""
    probe = FileLock(path, create=False)
    try:
        if probe.acquire():
            probe.release()
            return False
    except (FileNotFoundError, NotRegularFile):
        return False
    return True
