"""How a command ended: exit code, outcome and ``error.type``, from what escaped it.

No OpenTelemetry import here: this runs on every path, and click/typer are only
inspected when the host already imported them.

| what escaped                     | exit code  | outcome        | error.type           |
|----------------------------------|------------|----------------|----------------------|
| nothing                          | 0 (or set) | success        | -                    |
| ``SystemExit(None)`` / ``(0)``   | 0          | success        | -                    |
| ``SystemExit(2)``                | 2          | usage_error    | ``_OTHER``           |
| ``SystemExit(130)``              | 130        | interrupted    | ``_OTHER``           |
| ``SystemExit(n)``, other n       | n (*)      | error          | ``_OTHER``           |
| ``SystemExit("message")``        | 1          | error          | ``_OTHER``           |
| ``KeyboardInterrupt``            | 130        | interrupted    | ``KeyboardInterrupt`` |
| click/typer ``Exit(code)``       | code       | as SystemExit  | as SystemExit        |
| click ``UsageError`` (+ subclasses) | 2       | usage_error    | qualified name (*)  |
| click ``Abort``                  | 1          | interrupted    | qualified class name |
| other ``click.ClickException``   | exit_code  | error          | qualified class name |
| any other exception              | 1          | internal_error | qualified class name |

(*) typer's vendored copy (``typer._click.exceptions.X``) is named as click's
(``click.exceptions.X``): one error, one name.

Exit code 2 means "usage error" by the convention argparse and click share; an author
whose codes mean something else says so with ``Telemetry(exit_codes={2: "error"})``
(applied to codes the command chose, never to an exception classified by its class). The
exception's message never leaves the process.

(*) The code the process really exits with (``process_exit_code``): ``SystemExit(300)``
exits 44 on POSIX, so 44 is recorded (and 256 is a success).
"""

import sys

from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final

SUCCESS: "Final" = "success"
ERROR: "Final" = "error"
INTERRUPTED: "Final" = "interrupted"
USAGE_ERROR: "Final" = "usage_error"
INTERNAL_ERROR: "Final" = "internal_error"

#: ``error.type`` when the command chose a non-zero exit code without a real exception.
OTHER: "Final" = "_OTHER"
USAGE_EXIT_CODE: "Final" = 2
SIGINT_EXIT_CODE: "Final" = 130


class ExitStatus(Record):
    """How a command ended."""

    __slots__ = ("code", "outcome", "error_type")

    def __init__(self, code: int, outcome: str, error_type: str | None = None) -> None:
        self.code = code
        self.outcome = outcome
        self.error_type = error_type


def qualified_name(cls: type[BaseException]) -> str:
    """``ValueError`` for builtins, ``package.module.Class`` otherwise."""
    module = cls.__module__
    if module in ("builtins", "__main__", None):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


_INT64_LIMIT = 2**63


def process_exit_code(code: int, platform: "str | None" = None) -> int:
    """The status a process exits with after ``SystemExit(code)``, as its parent reads it.

    CPython reads the code as a 64-bit C integer (outside it: -1) and passes it to
    ``exit()`` as a C ``int`` (the low 32 bits); POSIX keeps the low 8 bits of that
    (``300`` -> 44, ``-1`` -> 255, ``256`` -> 0), Windows the 32 bits, read unsigned
    (``-1`` -> 4294967295). Windows CPython before the gh-125842 fix read a 32-bit
    ``long`` instead, so codes from 2**31 up exited 4294967295 there.
    """
    if not -_INT64_LIMIT <= code < _INT64_LIMIT:
        code = -1
    code &= 0xFFFFFFFF
    if (platform if platform is not None else sys.platform) == "win32":
        return code
    return code & 0xFF


#: The outcomes an author may give an exit code (``Telemetry(exit_codes=...)``).
AUTHOR_OUTCOMES: "Final" = (ERROR, USAGE_ERROR, INTERRUPTED)


def checked_exit_codes(value: object) -> "dict[int, str]":
    """``exit_codes`` validated: ``{code: outcome}``, codes 1-255, outcomes from
    ``AUTHOR_OUTCOMES``; ValueError naming the first bad entry."""
    items = getattr(value, "items", None)
    if not callable(items):
        raise ValueError('exit_codes must be a mapping of exit code to outcome, e.g. {2: "error"}')
    checked: dict[int, str] = {}
    for code, outcome in items():
        if isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 255:
            raise ValueError(
                f"exit_codes: {code!r} is not an exit code from 1 to 255 (0 always means success)"
            )
        if outcome not in AUTHOR_OUTCOMES:
            raise ValueError(
                f"exit_codes[{code}]: {outcome!r} is not an outcome; use one of "
                + ", ".join(AUTHOR_OUTCOMES)
            )
        checked[code] = outcome
    return checked


def from_code(code: int, exit_codes: "Mapping[int, str] | None" = None) -> "ExitStatus":
    """A command that returned (or exited with) ``code`` on purpose, recorded as the code
    the process really exits with (``process_exit_code``); ``exit_codes``: what the author
    says its codes mean (beats the convention below)."""
    code = process_exit_code(code)
    if code == 0:
        return ExitStatus(0, SUCCESS)
    if exit_codes:
        meaning = exit_codes.get(code)
        if meaning is not None:
            return ExitStatus(code, meaning, OTHER)
    if code == USAGE_EXIT_CODE:
        return ExitStatus(code, USAGE_ERROR, OTHER)
    if code == SIGINT_EXIT_CODE:
        return ExitStatus(code, INTERRUPTED, OTHER)
    return ExitStatus(code, ERROR, OTHER)


def _system_exit_code(value: object) -> int:
    # Mirrors what the interpreter does with SystemExit.code at exit.
    if value is None:
        return 0
    if isinstance(value, int):  # bool included
        return process_exit_code(int(value))
    return 1


def classify(
    exc: BaseException | None,
    *,
    default_code: int = 0,
    exit_codes: "Mapping[int, str] | None" = None,
) -> "ExitStatus":
    """Map what escaped a command (or None) to its exit code, outcome and error type."""
    if exc is None:
        return from_code(default_code, exit_codes)
    if isinstance(exc, SystemExit):
        return from_code(_system_exit_code(exc.code), exit_codes)
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus(SIGINT_EXIT_CODE, INTERRUPTED, qualified_name(type(exc)))
    click_exit = _classify_click(exc, exit_codes)
    if click_exit is not None:
        return click_exit
    return ExitStatus(1, INTERNAL_ERROR, qualified_name(type(exc)))


# click, typer (which, from 0.20 or so, ships its own copy of click under typer._click and
# its own Exit/Abort) all name their control-flow exceptions alike.
_FRAMEWORK_MODULES: "Final" = frozenset(
    {"click.exceptions", "typer.exceptions", "typer._click.exceptions"}
)


def _framework_name(cls: type[BaseException]) -> str:
    """The qualified name, with typer's vendored click (``typer._click.exceptions``) named
    as click's: one error, one name on a dashboard, whichever framework raised it."""
    name = qualified_name(cls)
    if name.startswith(_VENDORED_CLICK):
        return "click." + name[len(_VENDORED_CLICK) :]
    return name


_VENDORED_CLICK: "Final" = "typer._click."


def _classify_click(
    exc: BaseException, exit_codes: "Mapping[int, str] | None" = None
) -> "ExitStatus | None":
    """Recognise click and typer exceptions by their class hierarchy, without importing them."""
    name = _framework_name(type(exc))
    for cls in type(exc).__mro__:
        if cls.__module__ not in _FRAMEWORK_MODULES:
            continue
        kind = cls.__name__
        if kind == "Exit":
            return from_code(_system_exit_code(getattr(exc, "exit_code", 0)), exit_codes)
        if kind == "Abort":
            return ExitStatus(1, INTERRUPTED, name)
        if kind == "UsageError":
            return ExitStatus(_system_exit_code(getattr(exc, "exit_code", 2)), USAGE_ERROR, name)
        if kind in ("ClickException", "TyperException"):
            return ExitStatus(_system_exit_code(getattr(exc, "exit_code", 1)), ERROR, name)
    return None
