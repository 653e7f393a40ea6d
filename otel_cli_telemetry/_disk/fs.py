"""Trust on disk: the state directory is data, never code, and nothing in it is followed
or waited on.

Two rules, applied where a path is *used* (the CLI before it writes, the exporter before
it reads), not once at start-up:

- **The directory chain.** The state dir must be ours (owner, not writable by group or
  others, not a link), and so must every directory above it that someone else could use to
  swap it: each ancestor belongs to root or to us and cannot be written by others, unless
  it is a root-owned sticky directory (``/tmp``: others may add entries but never rename or
  delete ours) or the user's own home. A link on the way must belong to root or to us.
  Missing directories are created one by one with mode 0700, whatever the umask.
- **Every file.** Opened with ``O_NOFOLLOW | O_NONBLOCK`` (a link, FIFO, socket or device
  never hangs or redirects us), checked with ``fstat`` to be a regular file of ours, and
  read up to a cap. Anything else raises ``NotRegularFile`` (a ``ValueError``): callers
  treat it as corrupt and replace, ignore or quarantine it.

Windows has no ``O_NOFOLLOW``, owners or mode bits in this sense: there the checks reduce
to "not a link, a directory where a directory is expected, a regular file where a file is".
"""

import errno
import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import TypeAlias

    #: Paths are plain strings here (pathlib costs a small CLI more than the rest of its
    #: telemetry); callers may pass any path-like.
    StrPath: TypeAlias = "str | os.PathLike[str]"

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
BINARY = getattr(os, "O_BINARY", 0)
_SAFE_FLAGS = NOFOLLOW | NONBLOCK | CLOEXEC | BINARY
_POSIX = sys.platform != "win32" and hasattr(os, "getuid")
#: errno values ``open`` gives for a link under O_NOFOLLOW (ELOOP; EMLINK on FreeBSD), a
#: FIFO without a reader or a socket (ENXIO), a directory opened for writing (EISDIR).
_NOT_REGULAR_ERRNOS = frozenset(
    {errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.EISDIR, getattr(errno, "EOPNOTSUPP", -1)}
)


class suppress:
    """``contextlib.suppress`` for the hot path (``contextlib`` is not loaded at start-up)."""

    def __init__(self, *exceptions: type[BaseException]) -> None:
        self._exceptions = exceptions

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: "TracebackType | None",
    ) -> bool:
        return exc_type is not None and issubclass(exc_type, self._exceptions)


class UnsafeHomeError(OSError):
    """The state directory (or a directory above it) may not be trusted: it is a link,
    belongs to another user, or can be written by others."""


class NotRegularFile(ValueError):
    """A path in the state dir is a link, directory, FIFO, socket, device or another
    user's file where one of our regular files should be."""


def _my_uid() -> int | None:
    return os.getuid() if _POSIX else None  # type: ignore[attr-defined,unused-ignore]


def _user_home() -> str | None:
    """The account's home from the password database (not ``$HOME``, which the
    environment can point anywhere)."""
    try:
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir  # type: ignore[attr-defined,unused-ignore]
    except (ImportError, KeyError, OSError):
        return None
    return os.path.realpath(home) if home else None


def _check_ancestor(path: str, st: "os.stat_result", uid: int) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeHomeError(f"{path} is not a directory")
    if st.st_uid not in (0, uid):
        raise UnsafeHomeError(f"{path} belongs to another user (uid {st.st_uid})")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        if st.st_mode & stat.S_ISVTX and st.st_uid == 0:
            return  # /tmp-like: others cannot rename or delete what we own in it
        if st.st_uid == uid and path == _user_home() and not st.st_mode & stat.S_IWOTH:
            return  # the user's own home, even with a shared group's write bit
        raise UnsafeHomeError(f"{path} can be written by others (mode {st.st_mode & 0o7777:o})")


def _split(path: str) -> list[str]:
    """``Path(path).parts`` of an absolute path, without pathlib: the anchor, then names."""
    drive, rest = os.path.splitdrive(path)
    names = [n for n in rest.replace(os.altsep or os.sep, os.sep).split(os.sep) if n]
    return [drive + os.sep, *names]


def check_ancestors(path: "StrPath") -> None:
    """Raise UnsafeHomeError unless nobody but root and us can swap ``path``'s parents.

    Stops at the first missing directory: what is missing, we create (0700).
    """
    if not _POSIX:
        return
    uid = os.getuid()  # type: ignore[attr-defined,unused-ignore]
    parts = _split(os.path.dirname(os.path.abspath(path)))
    current = parts[0]
    checked: set[str] = set()

    def check_real(real: str) -> bool:
        """Check every directory of an already resolved path; False if one is missing."""
        prefix = ""
        for part in _split(real):
            prefix = os.path.join(prefix, part) if prefix else part
            if prefix in checked:
                continue
            try:
                st = os.lstat(prefix)
            except FileNotFoundError:
                return False
            _check_ancestor(prefix, st, uid)
            checked.add(prefix)
        return True

    if not check_real(current):
        return
    for part in parts[1:]:
        candidate = os.path.join(current, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UnsafeHomeError(f"{candidate} cannot be checked: {exc.strerror}") from exc
        if stat.S_ISLNK(st.st_mode):
            # The link's directory passed the checks above, so only its owner can change it.
            if st.st_uid not in (0, uid):
                raise UnsafeHomeError(f"{candidate} is a link owned by another user")
            current = os.path.realpath(candidate)
            if not check_real(current):
                return
            continue
        _check_ancestor(candidate, st, uid)
        checked.add(candidate)
        current = candidate


def check_own_dir(path: "StrPath") -> bool:
    """True if ``path`` is a directory of ours that only we can write; False if missing.

    Raises UnsafeHomeError if it is a link, not a directory, another user's, or writable
    by group or others. Says nothing about its parents (see ``check_ancestors``).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeHomeError(f"{path} is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeHomeError(f"{path} is not a directory")
    uid = _my_uid()
    if uid is not None and st.st_uid != uid:
        raise UnsafeHomeError(f"{path} belongs to another user")
    if _POSIX and st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeHomeError(f"{path} is writable by group or others")
    return True


def check_home(path: "StrPath") -> bool:
    """The whole check of a state dir: absolute, its chain safe, itself ours.

    True if it exists, False if it does not yet (its existing parents are safe).
    """
    if not os.path.isabs(path):
        raise UnsafeHomeError(f"{path} is not an absolute path")
    check_ancestors(path)
    return check_own_dir(path)


def ensure_home(path: "StrPath") -> "StrPath":
    """``check_home``, creating what is missing one directory at a time, each 0700."""
    if check_home(path):
        return path
    missing: list[str] = []
    probe = os.fspath(path)
    while not os.path.lexists(probe):
        missing.append(probe)
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    for directory in reversed(missing):
        # mkdir's mode is masked by the umask, which can only take bits away from 0700.
        with suppress(FileExistsError):
            os.mkdir(directory, 0o700)
    check_ancestors(path)
    if not check_own_dir(path):
        raise UnsafeHomeError(f"{path} could not be created")
    return path


def ensure_subdir(path: "StrPath") -> "StrPath":
    """A directory directly inside an already checked state dir (``spool/``...).

    Anything else in its place (a link, a file, a FIFO, another user's directory) is moved
    out of the way first, never followed.
    """
    for _ in range(3):
        try:
            if check_own_dir(path):
                return path
        except UnsafeHomeError:
            move_aside(path)
            continue
        with suppress(FileExistsError):
            os.mkdir(path, 0o700)
    raise UnsafeHomeError(f"{path} keeps being replaced")


def subdir_if_safe(path: "StrPath") -> bool:
    """True if ``path`` is a directory of ours to list; a link or other impostor is moved
    aside (so it is never followed) and False returned, as for a missing directory."""
    try:
        return check_own_dir(path)
    except UnsafeHomeError:
        move_aside(path)
        return False


def move_aside(path: "StrPath") -> None:
    """Take an impostor out of the way without following it (``aside``: loaded only when
    one is found)."""
    from otel_cli_telemetry._disk import aside

    aside.move_aside(path)


def open_regular(path: "StrPath", flags: int, mode: int = 0o600) -> int:
    """``os.open`` that never follows a link or blocks, and returns only a regular file of
    ours (opened for writing: with no other hard link, so a write lands nowhere else).
    Raises NotRegularFile for anything else, FileNotFoundError if missing."""
    try:
        fd = os.open(path, flags | _SAFE_FLAGS, mode)
    except OSError as exc:
        if exc.errno in _NOT_REGULAR_ERRNOS:
            raise NotRegularFile(f"{os.path.basename(path)} is not a regular file") from exc
        if _POSIX and exc.errno == errno.EACCES and os.path.islink(path):
            raise NotRegularFile(f"{os.path.basename(path)} is a link") from exc
        raise
    try:
        st = os.fstat(fd)
        uid = _my_uid()
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"{os.path.basename(path)} is not a regular file")
        if uid is not None and st.st_uid != uid:
            raise NotRegularFile(f"{os.path.basename(path)} belongs to another user")
        if flags & (os.O_WRONLY | os.O_RDWR) and st.st_nlink > 1:
            raise NotRegularFile(f"{os.path.basename(path)} has another hard link")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: "StrPath", max_bytes: int) -> bytes:
    """At most ``max_bytes`` of a regular file of ours; ValueError past the cap or for
    anything that is not such a file; FileNotFoundError if missing."""
    fd = open_regular(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{os.path.basename(path)} is larger than {max_bytes} bytes")
    return data


def scan_names(directory: "StrPath") -> list[str]:
    """Names in a directory of ours (checked first; an impostor is moved aside)."""
    if not subdir_if_safe(directory):
        return []
    try:
        return os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
