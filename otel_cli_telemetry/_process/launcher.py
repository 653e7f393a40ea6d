"""Start the detached exporter child, unless one is already draining or we are backing off.

The child is ``sys.executable [-P] -c ENTRY_CODE`` (which runs
``otel_cli_telemetry._exporter.child.main``): a fixed argv with no payload, token or header in
it (``ps`` shows everything in argv). In a frozen app (PyInstaller:
``sys.frozen``) there is no ``-c``: the binary itself is started with ``FROZEN_EXPORTER_ENV``
set, and our PyInstaller runtime hook makes it the exporter before the app's code runs.
It runs in its own session with stdio on /dev/null and a reduced environment that carries
the kill switch: nothing it runs can start another exporter.

The state dir is data, never code. ``python -c`` puts the working directory first on
``sys.path``, so the child runs in the filesystem root (root's, not writable by us or
anyone else), with ``-P`` (Python 3.11+) so that not even that is added, and with a
``PYTHONPATH`` of absolute entries only, none of them inside the state dir.
"""

import os
import sys

from otel_cli_telemetry._disk import contract, retry, state
from otel_cli_telemetry._disk import marker as coordination
from otel_cli_telemetry._process import config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath

#: What the child runs (``contract``: an exporter out of time starts its successor so too).
ENTRY_CODE = contract.EXPORTER_CODE

if TYPE_CHECKING:
    Spawn = Callable[..., Any]


def _safe_python_path(raw: str | None, home: "StrPath") -> list[str]:
    """The host's PYTHONPATH minus what could make the child import planted code:
    relative or empty entries (they would name the working directory) and anything in
    the state dir."""
    kept: list[str] = []
    state_dir = os.path.normcase(os.path.realpath(home))
    for entry in (raw or "").split(os.pathsep):
        if not entry or not os.path.isabs(entry):
            continue
        normal = os.path.normcase(os.path.realpath(entry))
        if normal == state_dir or normal.startswith(state_dir + os.sep):
            continue
        kept.append(entry)
    return kept


def child_env(env: "Mapping[str, str]", home: "StrPath") -> dict[str, str]:
    """The exporter child's whole environment."""
    reduced = {k: env[k] for k in contract.CHILD_PASS_THROUGH if env.get(k)}
    # Make sure the child imports the same copy of this package as the parent.
    # this file is <root>/otel_cli_telemetry/_process/launcher.py
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    reduced["PYTHONPATH"] = os.pathsep.join(
        [package_root, *_safe_python_path(reduced.get("PYTHONPATH"), home)]
    )
    reduced[config.CHILD_MARKER] = "1"
    if is_frozen():
        reduced[FROZEN_EXPORTER_ENV] = "1"
    reduced["OTEL_CLI_TELEMETRY_HOME_DIR"] = str(home)
    return reduced


#: Where the child runs: a directory nobody but the administrator can write.
CHILD_CWD = os.path.abspath(os.sep)


#: Set in the child's environment when the app is frozen (see ``contract``).
FROZEN_EXPORTER_ENV = contract.FROZEN_EXPORTER_ENV


def is_frozen() -> bool:
    """True in a frozen app, whose ``sys.executable`` is the app itself, not Python."""
    return bool(getattr(sys, "frozen", False))


def argv() -> list[str]:
    if is_frozen():
        return [sys.executable]  # no `-c`: the runtime hook reads FROZEN_EXPORTER_ENV
    # -P (3.11+): do not prepend the working directory (or anything) to sys.path.
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    return [_console_free_python(), *safe_path, "-c", ENTRY_CODE]


def _console_free_python(platform: str | None = None, executable: str | None = None) -> str:
    """On Windows, ``pythonw.exe`` beside ``python.exe`` when there is one: a console-less
    interpreter, so no console window flashes for the detached child (CREATE_NO_WINDOW
    covers ``python.exe`` too; this is the belt to those braces)."""
    executable = sys.executable if executable is None else executable
    if (platform or sys.platform) != "win32":
        return executable
    head, tail = os.path.split(executable)
    if tail.lower() != "python.exe":
        return executable
    candidate = os.path.join(head, "pythonw.exe")
    return candidate if os.path.isfile(candidate) else executable


BACKING_OFF = "backing off"


def should_start(
    paths: "state.Paths",
    *,
    queues: "list[state.Paths] | None" = None,
    now: float | None = None,
    env: "Mapping[str, str] | None" = None,
) -> tuple[bool, str]:
    """Whether a new exporter is needed now, and why not when it is not.

    A True answer is a claim (see ``coordination``): the caller must start the child,
    or call ``coordination.release_claim``.
    """
    if (os.environ if env is None else env).get(config.CHILD_MARKER):
        return False, "inside an exporter"
    if all(retry.in_backoff(q.delivery_file, now) for q in queues or [paths]):
        return False, BACKING_OFF
    if not coordination.claim(paths):
        return False, "an exporter is running or starting"
    return True, "ready"


#: posix_spawn with ``setsid`` (no ``subprocess`` import, which alone costs a lean CLI
#: more than the rest of the hand-off); it has no working-directory action, which is fine
#: only where ``-P`` keeps the working directory off ``sys.path`` (the child then moves to
#: the filesystem root itself).
_CAN_POSIX_SPAWN = (
    sys.platform != "win32"
    and sys.version_info >= (3, 11)
    and hasattr(os, "posix_spawn")
    and hasattr(os, "POSIX_SPAWN_OPEN")
)
#: Pids started with posix_spawn and not yet reaped (a long-lived host reaps them here).
_spawned: list[int] = []


def start(
    paths: "state.Paths", env: "Mapping[str, str]", *, spawn: "Spawn | None" = None
) -> int | None:
    """Start the child without waiting for it; its pid, or None if it could not start."""
    environment = child_env(env, paths.home)
    if spawn is None and _CAN_POSIX_SPAWN:
        return _posix_spawn(environment)
    return _popen(environment, spawn)


def _inheritable_fds() -> list[int] | None:
    """Descriptors above stdio a child would inherit (the host's business, e.g. a pipe a
    shell reads until every writer is gone); None if they cannot be listed."""
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(listing)
        except OSError:
            continue
        found = []
        for name in names:
            if name.isdigit() and int(name) > 2:
                try:
                    if os.get_inheritable(int(name)):
                        found.append(int(name))
                except OSError:
                    continue  # the listing's own descriptor, closed by now
        return found
    return None


if sys.platform == "win32":  # no posix_spawn there: Popen with the Windows flags

    def _posix_spawn(environment: dict[str, str]) -> int | None:
        return _popen(environment, None)

    def _reap() -> None:
        return None

else:

    def _posix_spawn(environment: dict[str, str]) -> int | None:
        _reap()
        inherited = _inheritable_fds()
        if inherited is None:
            return _popen(environment, None)  # cannot close what we cannot see: Popen can
        devnull = os.devnull
        actions: list[tuple[int | str, ...]] = [
            (os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0),
            *((os.POSIX_SPAWN_CLOSE, fd) for fd in inherited),
        ]
        try:
            pid = os.posix_spawn(
                sys.executable, argv(), environment, file_actions=actions, setsid=True
            )
        except (OSError, NotImplementedError, TypeError):
            return None
        _spawned.append(pid)
        return pid

    def _reap() -> None:
        for pid in list(_spawned):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            except OSError:
                continue
            if done:
                _spawned.remove(pid)


def _popen(environment: dict[str, str], spawn: "Spawn | None") -> int | None:
    """``subprocess.Popen`` (``popen``): on Windows, with a spawn seam, or where the open
    descriptors cannot be listed."""
    from otel_cli_telemetry._process import popen

    return popen.start(argv(), environment, spawn, cwd=CHILD_CWD)


def __getattr__(name: str) -> "Any":
    """``detach_kwargs`` and ``windows_creationflags``, from ``popen``, loaded only when
    the child is started with ``subprocess``."""
    from otel_cli_telemetry._process import popen

    return getattr(popen, name)
