"""Where the library keeps its files, and how it touches them safely.

Everything lives in one private directory per app and user (0700, files 0600):

- ``config.toml``: the user's persisted choice (``enabled = false``)
- ``state.json``: the anonymous installation id
- ``delivery.json``: back-off and drop counters shared by every exporter run
- ``destination.json``: where the last command asked its spans to go
- ``spool/``: one OTLP JSON file per finished trace, waiting for the exporter
- ``traces.jsonl``: the embedded default destination (a local file sink)
- ``export.lock``: held by the one exporter that is draining

Writes are atomic (temporary file + ``os.replace``) so a crash never leaves half a file;
read-modify-write cycles hold an advisory lock that the kernel drops when its holder
dies, ``kill -9`` included, so a stale lock can always be taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from . import config
from ._record import Record

CONFIG_FILE = "config.toml"
STATE_FILE = "state.json"
DELIVERY_FILE = "delivery.json"
DESTINATION_FILE = "destination.json"
SPOOL_DIR = "spool"
QUARANTINE_DIR = "quarantine"
SINK_FILE = "traces.jsonl"
EXPORT_LOCK = "export.lock"
STATE_LOCK = "state.lock"


class UnsafeHomeError(OSError):
    """The state directory exists but may not be trusted.

    It is a symlink, belongs to another user, or is writable by others."""


class Paths(Record):
    """The files of one app for the current user.

    ``queue`` names a destination's queue: "" for the first (``spool/``), a name for each
    further one (``spool-<name>/``), so every destination keeps its own progress and back-off.
    """

    __slots__ = ("home", "config_dir", "queue")

    def __init__(self, home: Path, config_dir: Path, queue: str = "") -> None:
        self.home = home
        self.config_dir = config_dir
        self.queue = queue

    def for_queue(self, queue: str) -> Paths:
        return Paths(home=self.home, config_dir=self.config_dir, queue=queue)

    def _queued(self, base: str, suffix: str = "") -> Path:
        return self.home / (f"{base}-{self.queue}{suffix}" if self.queue else f"{base}{suffix}")

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE

    @property
    def state_file(self) -> Path:
        return self.home / STATE_FILE

    @property
    def delivery_file(self) -> Path:
        return self._queued("delivery", ".json")

    @property
    def destination_file(self) -> Path:
        return self.home / DESTINATION_FILE

    @property
    def spool_dir(self) -> Path:
        return self._queued(SPOOL_DIR)

    @property
    def quarantine_dir(self) -> Path:
        return self.home / QUARANTINE_DIR

    @property
    def sink_file(self) -> Path:
        return self.home / SINK_FILE

    @property
    def export_lock(self) -> Path:
        return self._queued("export", ".lock")

    @property
    def state_lock(self) -> Path:
        return self.home / STATE_LOCK


def resolve_paths(
    app_name: str,
    env_prefix: str,
    env: Mapping[str, str],
    home: str | os.PathLike[str] | None = None,
) -> Paths:
    """``home=`` > ``{PREFIX}_TELEMETRY_HOME`` > platformdirs' user state and config dirs."""
    chosen = os.fspath(home) if home is not None else None
    if chosen is None:
        chosen = config.get(env, config.APP_HOME.format(prefix=env_prefix))
    if chosen is not None:
        base = Path(chosen).expanduser()
        return Paths(home=base, config_dir=base)
    import platformdirs

    return Paths(
        home=Path(platformdirs.user_state_dir(app_name, appauthor=False)) / "telemetry",
        config_dir=Path(platformdirs.user_config_dir(app_name, appauthor=False)),
    )


def check_dir(path: Path) -> bool:
    """True if ``path`` exists and is ours to trust; False if it does not exist yet.

    Raises UnsafeHomeError when it exists but is a symlink, belongs to another user or
    is writable by group or others: someone else could then read or plant our files.
    """
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeHomeError(f"{path} is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeHomeError(f"{path} is not a directory")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise UnsafeHomeError(f"{path} belongs to another user")
    if sys.platform != "win32" and st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeHomeError(f"{path} is writable by group or others")
    return True


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 if missing; refuse an unsafe one."""
    if not check_dir(path):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_dir(path)
    return path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing, mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{random_uuid().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: Path, *, max_bytes: int = 1 << 20) -> dict[str, Any] | None:
    """A JSON object from ``path``; None if missing. ValueError if corrupt or oversized."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    if len(raw) > max_bytes:
        raise ValueError(f"{path.name} is larger than {max_bytes} bytes")
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} does not hold a JSON object")
    return value


def write_json(path: Path, value: Mapping[str, Any]) -> None:
    atomic_write(path, json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def _uuid_mod() -> Any:
    import uuid  # lazily: only the enabled path needs it

    return uuid


def random_uuid() -> Any:
    return _uuid_mod().uuid4()


# --- advisory file locks ----------------------------------------------------------


def _open_lock(path: Path, *, create: bool = True) -> IO[bytes]:
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | (os.O_CREAT if create else 0)
    fd = os.open(path, flags, 0o600)
    return os.fdopen(fd, "r+b")


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fh: IO[bytes]) -> bool:
        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fh: IO[bytes]) -> None:
        with contextlib.suppress(OSError):
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fh: IO[bytes]) -> bool:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class FileLock:
    """An exclusive advisory lock on a file; the OS drops it if the holder dies."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
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

    def __enter__(self) -> FileLock:
        if not self.acquire(timeout=5.0):
            raise TimeoutError(f"could not lock {self.path.name}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(path: Path) -> bool:
    """True if another process holds the lock on ``path`` right now (never creates it)."""
    probe = FileLock(path, create=False)
    try:
        if probe.acquire():
            probe.release()
            return False
    except FileNotFoundError:
        return False
    return True


# --- the anonymous installation id -------------------------------------------------


def installation_id(paths: Paths) -> str:
    """The random UUID4 that identifies this installation, minted on first use
    (see ``identity``: never derived from hardware; a corrupt file gets a fresh id)."""
    from . import identity

    return identity.read(paths).installation_id


# --- the persisted choice (a flat TOML file we write ourselves) --------------------


def read_config(path: Path) -> dict[str, bool | int | str]:
    """Read our flat ``key = value`` TOML subset (booleans, integers, basic strings).

    A line we do not understand is skipped with a debug note; the file is never fatal.
    A full TOML parser would cost an import on every run and is not in Python 3.10.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        config.warn_once(str(path), f"unreadable: {exc.__class__.__name__}")
        return {}
    values: dict[str, bool | int | str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        key, raw = key.strip(), raw.split(" #", 1)[0].strip()
        parsed: bool | int | str | None = None
        if raw in ("true", "false"):
            parsed = raw == "true"
        elif raw.lstrip("-").isdigit():
            parsed = int(raw)
        elif len(raw) >= 2 and raw[0] == raw[-1] == '"':
            parsed = raw[1:-1]
        if not sep or not key.replace("_", "").replace("-", "").isalnum() or parsed is None:
            config.warn_once(f"{path}:{lineno}", "line not understood, ignored")
            continue
        values[key] = parsed
    return values


def write_config(path: Path, values: Mapping[str, bool | int | str]) -> None:
    lines = ["# Written by otel-cli-telemetry. Environment variables override this file."]
    for key, value in sorted(values.items()):
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = json.dumps(value)
        lines.append(f"{key} = {rendered}")
    ensure_dir(path.parent)
    atomic_write(path, ("\n".join(lines) + "\n").encode())
