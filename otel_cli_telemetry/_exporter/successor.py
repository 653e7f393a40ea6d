"""The next exporter, started by one that runs out of time with work waiting.

A command that spools a trace while an exporter holds the marker starts none: that
exporter must send it. When its deadline comes first (once it has sent, a request with
less than ``batch.MIN_ATTEMPT_S`` left could be cut short), it gives the marker up, claims it again
as a command would (``marker.claim``) and, if it gets the claim, starts its successor,
which adopts the marker and sends what waits. If a command got the claim first, that
command starts one. Either way no trace waits for some later command.

The successor is started exactly as this exporter was: the same interpreter, arguments
(``sys.orig_argv``, only when it is the launcher's ``-c`` entry or a frozen app's binary)
and environment (the launcher's, ``launcher_environment``: nothing of the host's is read
again). Our working directory is already the filesystem root and our descriptors are
closed (``child._settle``), so it inherits nothing else. It is detached in a session of its
own, its stdio the null device.
"""

import os
import sys

from otel_cli_telemetry._disk import contract, marker, state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def start(paths: state.Paths) -> int | None:
    """Claim the marker and start the successor; its pid, or None when a command claimed
    the marker first (it starts one) or the successor could not start (claim given back:
    the next command starts one)."""
    if not marker.claim(paths):
        return None
    pid = _spawn()
    if pid is None:
        marker.release_claim(paths)
    return pid


def _spawn() -> int | None:
    argv = exporter_argv()
    if argv is None:
        return None
    try:
        return _start_detached(argv, launcher_environment(os.environ))
    except (OSError, NotImplementedError, TypeError, ValueError):
        return None


def exporter_argv() -> list[str] | None:
    """How this process was started, if it is an exporter the launcher started (its
    environment and command line say so); None in any other process, whose
    ``sys.orig_argv`` is its own command line (a host that calls ``child.main``)."""
    env = os.environ
    if env.get(contract.CHILD_MARKER) != "1" or not env.get(contract.HOME_ENV):
        return None
    argv = list(getattr(sys, "orig_argv", None) or [])
    if getattr(sys, "frozen", False):
        # the binary again; our runtime hook makes it the exporter
        return argv if argv and env.get(contract.FROZEN_EXPORTER_ENV) == "1" else None
    return argv if argv[-2:] == ["-c", contract.EXPORTER_CODE] else None


def launcher_environment(env: "Mapping[str, str]") -> dict[str, str]:
    """The environment the launcher gave this exporter, without what was added since: a
    frozen app's bootloader adds its unpack directory (``_PYI_*``, ``LD_LIBRARY_PATH``),
    which is deleted when this process exits; the successor must unpack its own."""
    return {
        name: value
        for name, value in env.items()
        if name in contract.CHILD_PASS_THROUGH or name.startswith(contract.OWN_ENV_PREFIX)
    }


if sys.platform == "win32":

    def _start_detached(argv: list[str], env: dict[str, str]) -> int:
        """No posix_spawn: ``subprocess`` (loaded only here), detached, no console."""
        import subprocess

        flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
        flags |= subprocess.CREATE_NO_WINDOW
        process = subprocess.Popen(
            argv,
            executable=sys.executable,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            env=env,
            creationflags=flags,
        )
        process.returncode = 0  # detached on purpose: no "still running" warning at exit
        return process.pid

else:

    def _start_detached(argv: list[str], env: dict[str, str]) -> int:
        return os.posix_spawn(sys.executable, argv, env, setsid=True)
