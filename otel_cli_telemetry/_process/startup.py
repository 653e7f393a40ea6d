"""How long the process ran before its first command started (the CLI's own start-up:
the interpreter, its imports, the author's set-up), where the platform says so cheaply.

Linux only: ``/proc/self/stat`` gives the process's start in clock ticks since boot, and
``CLOCK_BOOTTIME`` the time since boot now (both count suspend, both follow a time
namespace). One ``open``/``read`` of a small file, no module beyond those loaded at start-up.
The resolution is one clock tick (``SC_CLK_TCK``, 10 ms on most systems): the start is
rounded down to it, so the figure can be up to one tick too high. Elsewhere: nothing.
"""

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

_STAT: "Final" = "/proc/self/stat"
#: starttime is field 22 of ``/proc/<pid>/stat``; counted from field 3, after ``(comm)``.
_STARTTIME_AFTER_COMM: "Final" = 19
_measured = False


def startup_ms() -> "float | None":
    """Milliseconds from the process's start to now, or None where it is not known cheaply."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fd = os.open(_STAT, os.O_RDONLY)
        try:
            data = os.read(fd, 4096)
        finally:
            os.close(fd)
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
        # comm may hold spaces and parentheses: the fields follow its last ')'.
        ticks = int(data[data.rindex(b")") + 2 :].split()[_STARTTIME_AFTER_COMM])
        hertz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    if hertz <= 0:
        return None
    elapsed = now - ticks / hertz
    return round(elapsed * 1000.0, 1) if elapsed >= 0 else None


def first_command_ms() -> "float | None":
    """``startup_ms()`` for the process's first recorded command; None for the later ones
    (they did not wait for the start-up)."""
    global _measured
    if _measured:
        return None
    _measured = True
    return startup_ms()
