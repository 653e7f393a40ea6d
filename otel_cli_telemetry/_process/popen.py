"""Starting the exporter child with ``subprocess.Popen``: on Windows (no posix_spawn),
with a test's spawn seam, or where the open descriptors cannot be listed. Holds the
children it started until they exit. The common POSIX path (``launcher``) never loads it.
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Spawn = Callable[..., Any]

# Children we started and have not seen exit. Holding them keeps Popen.__del__ from
# warning "subprocess is still running" (an error under `-W error` test runs) and lets a
# long-lived host reap them, so no zombie piles up.
_children: "list[Any]" = []
_registered = False


def _let_go() -> None:
    """At exit: the children are detached on purpose. Mark them so Popen's finaliser does
    not warn that they still run; once we are gone, init reaps them."""
    for child in _children:
        if _still_running(child):
            child.returncode = 0
    _children.clear()


def _still_running(child: "Any") -> bool:
    try:
        return child.poll() is None
    except (AttributeError, OSError):
        return False


def windows_creationflags(subprocess_module: "Any") -> int:
    """The flags of a detached, window-less child on Windows: its own process group, no
    console (so none flashes), not attached to ours (Ctrl-C in the terminal spares it)."""
    flags = getattr(subprocess_module, "DETACHED_PROCESS", 0x8)
    flags |= getattr(subprocess_module, "CREATE_NEW_PROCESS_GROUP", 0x200)
    flags |= getattr(subprocess_module, "CREATE_NO_WINDOW", 0x08000000)
    return int(flags)


def detach_kwargs(subprocess_module: "Any", platform: str | None = None) -> "dict[str, Any]":
    """How ``Popen`` detaches the child: creation flags on Windows, a new session elsewhere."""
    if (platform or sys.platform) == "win32":
        return {"creationflags": windows_creationflags(subprocess_module)}
    return {"start_new_session": True}


def start(
    argv: list[str], environment: dict[str, str], spawn: "Spawn | None", *, cwd: str
) -> int | None:
    """Start the child detached, its standard streams on the null device; its pid, or None
    if it could not start."""
    import subprocess

    popen: Spawn = spawn or subprocess.Popen
    kwargs: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "close_fds": True,
        "cwd": cwd,
        "env": environment,
    }
    kwargs.update(detach_kwargs(subprocess))
    _children[:] = [c for c in _children if _still_running(c)]
    try:
        process = popen(argv, **kwargs)
    except OSError:
        return None
    global _registered
    if not _registered:
        import atexit

        atexit.register(_let_go)
        _registered = True
    _children.append(process)
    pid = getattr(process, "pid", None)
    return pid if isinstance(pid, int) else None
