"""Where the library keeps its files, and how it touches them safely.

Everything lives in one private directory per app and user (0700, files 0600):

- ``config.toml``: the user's persisted choice (``enabled = false``)
- ``state.json``: the anonymous installation id
- ``delivery.json``: back-off and drop counters shared by every exporter run
- ``spool/``: one OTLP JSON file per finished trace, waiting for the exporter
- ``traces.jsonl``: the embedded default destination (a local file sink)
- ``sdk.json``: the OpenTelemetry SDK's version, so a command need not import it to know
- ``export.lock``: held by the one exporter that is draining

Writes are atomic (temporary file + ``os.replace``) so a crash never leaves half a file;
read-modify-write cycles hold an advisory lock that the kernel drops when its holder
dies, ``kill -9`` included, so a stale lock can always be taken over.
"""

import os
import sys

from otel_cli_telemetry._disk import contract, jsontext
from otel_cli_telemetry._disk import fs as _fs
from otel_cli_telemetry._disk.fs import NotRegularFile as NotRegularFile
from otel_cli_telemetry._disk.fs import UnsafeHomeError as UnsafeHomeError
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath

CONFIG_FILE = contract.CONFIG_FILE
STATE_FILE = contract.STATE_FILE
#: Earlier versions' destinations (read on upgrade: ``destination.adopt_legacy``).
DESTINATION_FILE = contract.LEGACY_DESTINATION_FILE
SPOOL_DIR = contract.SPOOL_DIR
QUARANTINE_DIR = contract.QUARANTINE_DIR
SINK_FILE = contract.SINK_FILE
STATE_LOCK = contract.STATE_LOCK
#: Where the OpenTelemetry SDK's version was found (``attributes.sdk_version``).
SDK_FILE = contract.SDK_FILE


class Paths(Record):
    """The files of one app for the current user.

    ``queue`` names a destination's queue: "" for the first (``spool/``), a name for each
    further one (``spool-<name>/``), so every destination keeps its own progress and back-off.
    """

    __slots__ = ("home", "config_dir", "queue")

    def __init__(
        self, home: "str | os.PathLike[str]", config_dir: "str | os.PathLike[str]", queue: str = ""
    ) -> None:
        # Plain strings: pathlib costs a small CLI more than the rest of its telemetry.
        self.home = os.fspath(home)
        self.config_dir = os.fspath(config_dir)
        self.queue = queue

    def for_queue(self, queue: str) -> "Paths":
        return Paths(home=self.home, config_dir=self.config_dir, queue=queue)

    def _queued(self, base: str, suffix: str = "") -> str:
        name = f"{base}-{self.queue}{suffix}" if self.queue else f"{base}{suffix}"
        return os.path.join(self.home, name)

    @property
    def config_file(self) -> str:
        return os.path.join(self.config_dir, CONFIG_FILE)

    @property
    def state_file(self) -> str:
        return os.path.join(self.home, STATE_FILE)

    @property
    def delivery_file(self) -> str:
        return self._queued("delivery", ".json")

    @property
    def destination_file(self) -> str:
        return os.path.join(self.home, DESTINATION_FILE)

    @property
    def queue_file(self) -> str:
        """This queue's destination, for the exporter child (``contract.QUEUE_FILE``)."""
        return self._queued(contract.QUEUE_FILE, ".json")

    @property
    def spool_dir(self) -> str:
        return self._queued(SPOOL_DIR)

    @property
    def quarantine_dir(self) -> str:
        return os.path.join(self.home, QUARANTINE_DIR)

    @property
    def sink_file(self) -> str:
        return os.path.join(self.home, SINK_FILE)

    @property
    def export_lock(self) -> str:
        return self._queued("export", ".lock")

    @property
    def state_lock(self) -> str:
        return os.path.join(self.home, STATE_LOCK)

    @property
    def sdk_file(self) -> str:
        return os.path.join(self.home, SDK_FILE)


def resolve_paths(
    app_name: str,
    env_prefix: str,
    env: "Mapping[str, str]",
    home: "str | os.PathLike[str] | None" = None,
) -> "Paths":
    """``home=`` > ``{PREFIX}_TELEMETRY_HOME`` > platformdirs' user state and config dirs."""
    chosen = os.fspath(home) if home is not None else None
    if chosen is None:
        chosen = contract.get(env, contract.APP_HOME.format(prefix=env_prefix))
    if chosen is not None:
        # Made absolute once, here: the exporter child runs elsewhere and must find the
        # same directory, and nothing may be derived from a relative path.
        base = os.path.abspath(os.path.expanduser(chosen))
        return Paths(home=base, config_dir=base)
    state_dir, config_dir = user_dirs(app_name, env)
    return Paths(home=os.path.join(state_dir, "telemetry"), config_dir=config_dir)


def user_dirs(app_name: str, env: "Mapping[str, str]") -> tuple[str, str]:
    """The user state and config directories of ``app_name``, as platformdirs gives them.

    On Linux and the BSDs that is the XDG rule, computed here (``$XDG_STATE_HOME`` or
    ``~/.local/state``, ``$XDG_CONFIG_HOME`` or ``~/.config``; a relative XDG value is
    ignored, a relative ``HOME`` replaced by the account's home), because importing
    platformdirs costs a small CLI more than everything else it does for telemetry; a test
    keeps the two equal. macOS and Windows ask platformdirs.
    """
    if os.name == "posix" and sys.platform != "darwin":
        return (
            os.path.join(_xdg_base(env, "XDG_STATE_HOME", ".local/state"), app_name),
            os.path.join(_xdg_base(env, "XDG_CONFIG_HOME", ".config"), app_name),
        )
    import platformdirs

    return (
        os.path.abspath(platformdirs.user_state_dir(app_name, appauthor=False)),
        os.path.abspath(platformdirs.user_config_dir(app_name, appauthor=False)),
    )


def _xdg_base(env: "Mapping[str, str]", variable: str, default: str) -> str:
    value = env.get(variable, "")
    if value.startswith("/"):
        return value
    home = env.get("HOME", "")
    if not home.startswith("/"):
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir  # type: ignore[attr-defined,unused-ignore]
        except (ImportError, KeyError):
            home = os.path.expanduser("~")
    return os.path.join(home.rstrip("/") or "/", default)


def check_dir(path: "StrPath") -> bool:
    """True if the state dir ``path`` exists and is ours to trust; False if it does not
    exist yet. Raises UnsafeHomeError when it, or a directory above it, could be swapped
    or written by someone else (see ``_fs``)."""
    return _fs.check_home(path)


def ensure_dir(path: "StrPath") -> "StrPath":
    """Create the state dir (and missing parents) 0700 whatever the umask; refuse an
    unsafe one. Called where the directory is used, not once."""
    return _fs.ensure_home(path)


def atomic_write(path: "StrPath", data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing, mode 0600.

    ``os.replace`` swaps the directory entry: a link in ``path``'s place is replaced, never
    followed. A directory in its place is moved aside first.
    """
    head, name = os.path.split(os.fspath(path))
    tmp = os.path.join(head, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _fs.NOFOLLOW | _fs.CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            os.replace(tmp, path)
        except (IsADirectoryError, PermissionError):
            if not os.path.isdir(path) or os.path.islink(path):
                raise
            _fs.move_aside(path)
            os.replace(tmp, path)
    except BaseException:
        with _fs.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: "StrPath", *, max_bytes: int = 1 << 20) -> "dict[str, Any] | None":
    """A JSON object from ``path``; None if missing. ValueError if corrupt, oversized or
    not a regular file of ours (a link, FIFO, directory...): never followed, never waited on."""
    try:
        raw = _fs.read_bytes(path, max_bytes)
    except FileNotFoundError:
        return None
    except NotADirectoryError as exc:
        raise NotRegularFile(f"{os.path.basename(path)}: a parent is not a directory") from exc
    try:
        value = jsontext.loads(raw)
    except RecursionError as exc:  # nested deeper than the parser goes: corrupt
        raise ValueError(f"{os.path.basename(path)} is nested too deeply") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{os.path.basename(path)} does not hold a JSON object")
    return value


def write_json(path: "StrPath", value: "Mapping[str, Any]") -> None:
    atomic_write(path, jsontext.dumps(value, sort_keys=True, allow_nan=True).encode())


def uuid4() -> str:
    """``str(uuid.uuid4())`` from ``os.urandom``, without importing ``uuid`` (costly)."""
    return uuid_text(os.urandom(16), 4)


def uuid_text(raw: bytes, version: int) -> str:
    """The first 16 bytes of ``raw`` as a UUID string of ``version`` (RFC 4122 variant)."""
    b = bytearray(raw[:16])
    b[6], b[8] = (b[6] & 0x0F) | (version << 4), (b[8] & 0x3F) | 0x80
    h = b.hex()  # 8-4-4-4-12 hex digits
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --- the persisted choice (a flat TOML file we write ourselves) --------------------


#: The config file may hold a few short lines; anything larger is not ours.
MAX_CONFIG_BYTES = 64 * 1024
#: Why a config file was ignored, by path (``status`` shows it).
_config_problems: dict[str, str] = {}


def config_problem(path: "StrPath") -> str | None:
    """Why ``read_config`` ignored ``path`` in this process, if it did."""
    return _config_problems.get(str(path))


def read_config(path: "StrPath") -> dict[str, bool | int | str]:
    """Read ``config.toml`` with the standard TOML parser (``tomllib``; ``tomli`` on 3.10),
    imported only when the file exists. Only top-level booleans, integers and strings are
    ours; anything else (tables, arrays, floats, dates) is skipped with a debug note.

    A file that is not a regular file of ours, too large, or in a directory others could
    swap is ignored as a whole (the default rule applies; ``config_problem`` says why). A
    file that is not valid TOML is read line by line, each line with the TOML parser, so a
    typo elsewhere never undoes a persisted ``enabled = false``: the file is never fatal.
    """
    _config_problems.pop(str(path), None)
    try:
        _fs.check_home(os.path.dirname(path))
        raw = _fs.read_bytes(path, MAX_CONFIG_BYTES)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        reason = (
            str(exc)
            if isinstance(exc, (UnsafeHomeError, NotRegularFile))
            else (f"unreadable ({exc.__class__.__name__})")
        )
        _config_problems[str(path)] = reason
        contract.warn_once(str(path), reason)
        return {}
    from otel_cli_telemetry._disk import toml_read as toml

    try:
        parsed = toml.loads(text)
    except ValueError:  # tomllib.TOMLDecodeError
        _config_problems[str(path)] = "not valid TOML; read line by line"
        contract.warn_once(str(path), "not valid TOML; read line by line")
        parsed = toml.loads_by_line(text)
    values: dict[str, bool | int | str] = {}
    for key, value in parsed.items():
        if isinstance(value, (bool, int, str)):
            values[key] = value
        else:
            contract.warn_once(f"{path}:{key}", "not a boolean, integer or string, ignored")
    return values
