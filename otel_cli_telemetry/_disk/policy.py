"""The machine policy: one file an administrator writes to limit every app's telemetry.

::

    # /etc/otel-cli-telemetry/policy.toml
    telemetry = "local"     # every app on this machine: "off", "local" or "on" (no limit)

    [apps]                  # by service name; beats the machine-wide line
    assembly = "off"
    "my-cli" = "on"

Where it is: ``/etc/otel-cli-telemetry/policy.toml`` (Linux, the BSDs),
``/Library/Application Support/otel-cli-telemetry/policy.toml`` (macOS),
``%ProgramData%\\otel-cli-telemetry\\policy.toml`` (Windows); ``OTEL_CLI_TELEMETRY_POLICY``
names another file (tests, packagers). A policy can only take away: ``on`` means "no limit",
never "on over the user's opt-out".

Trust: the file is read like the state dir's files (no-follow, non-blocking, a regular file,
size-capped) but may belong to root: it must belong to root or to the user running the
app, be writable by nobody else, and every directory above it too (``fs.check_ancestors``);
a link in its place is followed only if root or the user owns it and its target passes the
same checks. A file that exists but fails a check, or that does not parse, turns telemetry
**off** (fail closed), and ``status`` says why. No file costs the command one failed
``lstat()`` (``consent.from_policy``), and this module is not even loaded.

Read on the usage path when no opt-out decided: stdlib ``os`` only, string annotations.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._disk.fs import StrPath

MAX_BYTES = 64 * 1024
#: The values a policy line may take (``on``: no limit).
VALUES = ("on", "local", "off")
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


class PolicyError(ValueError):
    """The policy file exists but cannot be trusted or parsed: telemetry is off."""


class MachinePolicy:
    """A parsed policy, or the reason it could not be used (``error``: then all off)."""

    __slots__ = ("path", "default", "apps", "error")

    def __init__(
        self,
        path: str,
        default: str | None = None,
        apps: "dict[str, str] | None" = None,
        error: str | None = None,
    ) -> None:
        self.path = path
        self.default = default
        self.apps = apps if apps is not None else {}
        self.error = error

    def mode_for(self, service_name: str | None) -> "tuple[str, str]":
        """The most this app may do (``on``, ``local`` or ``off``) and why."""
        if self.error is not None:
            return "off", f"machine policy {self.path} cannot be used ({self.error}): off"
        if service_name is not None and service_name in self.apps:
            mode = self.apps[service_name]
            return mode, f"machine policy {self.path}: [apps] {service_name} = {mode!r}"
        if self.default is not None:
            return self.default, f"machine policy {self.path}: telemetry = {self.default!r}"
        return "on", f"machine policy {self.path} sets no limit for this app"


def load(file: "StrPath") -> "MachinePolicy | None":
    """The policy at ``file``; None when there is none."""
    name = os.fspath(file)
    try:
        data = _read_trusted(name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        reason = str(exc) if isinstance(exc, PolicyError) else _describe(exc)
        return MachinePolicy(name, error=reason)
    try:
        default, apps = parse(data.decode("utf-8"))
    except UnicodeDecodeError:
        return MachinePolicy(name, error="not UTF-8 text")
    except PolicyError as exc:
        return MachinePolicy(name, error=str(exc))
    return MachinePolicy(name, default, apps)


def _describe(exc: BaseException) -> str:
    strerror = getattr(exc, "strerror", None)
    return f"unreadable: {strerror}" if strerror else f"unreadable ({exc.__class__.__name__})"


def _read_trusted(name: str) -> bytes:
    """The file's bytes, under the trust rules above; PolicyError when one fails."""
    try:
        fd = os.open(name, _FLAGS)
    except OSError as exc:
        if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            raise
        if not os.path.islink(name):
            raise
        # A link in the policy's place: followed only if root or we own it, and only to a
        # target that passes every check (and is itself no link).
        target = _link_target(name)
        try:
            fd = os.open(target, _FLAGS)
        except FileNotFoundError as missing:
            raise PolicyError("a link to a missing file") from missing
        name = target
    try:
        _check_file(name, os.fstat(fd))
        from otel_cli_telemetry._disk import fs

        try:
            fs.check_ancestors(name)
        except fs.UnsafeHomeError as exc:
            raise PolicyError(str(exc)) from exc
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            data = fh.read(MAX_BYTES + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > MAX_BYTES:
        raise PolicyError(f"larger than {MAX_BYTES} bytes")
    return data


def _owners() -> "tuple[int, ...] | None":
    getuid = getattr(os, "getuid", None)
    return (0, getuid()) if getuid is not None and sys.platform != "win32" else None


def _link_target(name: str) -> str:
    owners = _owners()
    if owners is not None and os.lstat(name).st_uid not in owners:
        raise PolicyError("a link owned by another user")
    return os.path.realpath(name)


def _check_file(name: str, st: os.stat_result) -> None:
    import stat

    if not stat.S_ISREG(st.st_mode):
        raise PolicyError("not a regular file")
    owners = _owners()
    if owners is None:
        return
    if st.st_uid not in owners:
        raise PolicyError(f"belongs to uid {st.st_uid}, neither root nor this user")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PolicyError(f"writable by others (mode {st.st_mode & 0o7777:o})")


def parse(text: str) -> "tuple[str | None, dict[str, str]]":
    """A policy's ``telemetry = "..."`` line and ``[apps]`` table, read with the standard TOML
    parser (``tomllib``; ``tomli`` on 3.10). Anything else, or a value that is not one of
    ``VALUES``, raises PolicyError saying where: a typo must not pass silently."""
    from otel_cli_telemetry._disk import toml

    try:
        data = toml.loads(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError names the line and column
        raise PolicyError(f"not valid TOML: {exc}") from exc
    default: str | None = None
    apps: dict[str, str] = {}
    for key, value in data.items():
        if key == "telemetry":
            default = _mode(value, "telemetry")
        elif key == "apps" and isinstance(value, dict):
            apps = {name: _mode(mode, f"[apps] {name}") for name, mode in value.items()}
        elif isinstance(value, dict):
            raise PolicyError(f"only an [apps] table is understood, not [{key}]")
        else:
            raise PolicyError(f"unknown key {key!r}")
    return default, apps


def _mode(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"{where}: the value must be a quoted string")
    mode = value.strip().lower()
    if mode not in VALUES:
        raise PolicyError(f"{where}: {mode!r} is not one of {', '.join(VALUES)}")
    return mode
