"""Where an internal error happened, in a form safe to send.

Computed only when a command ends with an ``internal_error`` (an exception the CLI did not
handle): the traceback's frames inside the app's own package, as ``module:function:line``;
frames anywhere else collapse to their top-level package name (``click``, ``json``), a run
of them to one entry. Innermost last, at most ``MAX_FRAMES`` entries of ``MAX_LENGTH``
characters. Never a path, a local value or the exception's message: module and function
names are the code's own identifiers, the same on every machine.
"""

from otel_cli_telemetry._process.attributes import CRASH_FRAMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

MAX_FRAMES: "Final" = 16
MAX_LENGTH: "Final" = 120


def frames(exc: BaseException, package: str) -> "list[str]":
    """The crash location of ``exc`` (see the module's docstring); ``package``: the app's
    top-level package (``__main__`` for a script)."""
    found: list[str] = []
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        module = frame.f_globals.get("__name__")
        if not isinstance(module, str) or not module:
            module = "?"
        top = module.partition(".")[0]
        if top == package:
            code = frame.f_code
            function = getattr(code, "co_qualname", code.co_name)  # co_qualname: 3.11+
            found.append(f"{module}:{function}:{tb.tb_lineno}"[:MAX_LENGTH])
        elif not found or found[-1] != top[:MAX_LENGTH]:
            found.append(top[:MAX_LENGTH])
        tb = tb.tb_next
    return found[-MAX_FRAMES:]


def attributes(exc: "BaseException | None", package: "str | None") -> "dict[str, Any] | None":
    """``{CRASH_FRAMES: (...)}`` for a span, or None when there is nothing to say."""
    if exc is None or not package:
        return None
    found = frames(exc, package)
    return {CRASH_FRAMES: tuple(found)} if found else None
