"""Instrument a whole click command tree (typer builds one too) with one call.

Duck-typed on purpose: typer ships its own copy of click (``typer._click``), whose classes
are not click's. What is used: ``Command.main``, ``Command.invoke``, ``Group.commands``,
``Context.parent/info_name/params/get_parameter_source`` and ``Parameter.opts``.

- The span covers ``main()``: parsing, usage errors and the exit included.
- Its name is the full command path, ``assembly transcript get``, set when the innermost
  command is invoked (a usage error before that leaves the app's name).
- The exit code is what the process really exits with (click turns Ctrl-C into exit 1,
  typer into 130); outcome and ``error.type`` come from what escaped the command's code.
- Option *names* the user gave may be recorded, only those the author allow-lists;
  values never.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Collection
from typing import Any

from otel_cli_telemetry._process.run import CommandHandle
from otel_cli_telemetry.telemetry import Telemetry

OPTIONS_ATTRIBUTE = "cli_telemetry.options"
_MARK = "_otel_cli_telemetry_instrumented"
#: Set on the consent group: running ``telemetry disable`` must not itself be recorded.
SKIP = "_otel_cli_telemetry_skip"
_current: contextvars.ContextVar[CommandHandle | None] = contextvars.ContextVar(
    "otel_cli_telemetry_click_handle", default=None
)


def command_path(ctx: Any) -> str:
    """Subcommand names from the root's child down to ``ctx`` (the program name left out)."""
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.append(str(ctx.info_name))
        ctx = ctx.parent
    return " ".join(reversed(names))


def given_options(ctx: Any, allowed: Collection[str]) -> list[str]:
    """Names of allow-listed options the user typed on the command line (never values)."""
    if not allowed:
        return []
    found: list[str] = []
    command = getattr(ctx, "command", None)
    for param in getattr(command, "params", []):
        name = getattr(param, "name", None)
        if name is None or name not in ctx.params:
            continue
        try:
            source = ctx.get_parameter_source(name)
        except (AttributeError, TypeError):
            continue
        if getattr(source, "name", "") != "COMMANDLINE":
            continue
        opts = list(getattr(param, "opts", []) or [])
        label = next((o for o in opts if o.startswith("--")), opts[0] if opts else name)
        if label in allowed or name in allowed:
            found.append(label)
    return found


def _wrap_invoke(command: Any, allowed: frozenset[str]) -> None:
    if getattr(command, _MARK, False):
        return
    original: Callable[[Any], Any] = command.invoke

    def invoke(ctx: Any) -> Any:
        handle = _current.get()
        if handle is not None and getattr(command, SKIP, False):
            handle.discard()
            handle = None
        if handle is not None:
            path = command_path(ctx)
            if path:
                handle.set_name(path)
            options = given_options(ctx, allowed)
            if options:
                handle.options.update(options)
                handle.set_attribute(OPTIONS_ATTRIBUTE, sorted(handle.options))
        try:
            return original(ctx)
        except BaseException as exc:
            if handle is not None and handle.inner_exception is None:
                handle.inner_exception = exc
            raise

    original_make_context: Callable[..., Any] = command.make_context

    def make_context(info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        # Named before its arguments are parsed, so a usage error of `app sub leaf`
        # is recorded under `leaf`, not under its group.
        handle = _current.get()
        if handle is not None and parent is not None and not getattr(command, SKIP, False):
            handle.set_name(f"{command_path(parent)} {info_name}".strip())
        try:
            return original_make_context(info_name, args, parent=parent, **extra)
        except BaseException as exc:
            # A usage error of the root (``app --bogus``) is raised here, outside any
            # ``invoke``: keep its class, as a subcommand's is kept.
            if handle is not None and handle.inner_exception is None:
                handle.inner_exception = exc
            raise

    command.invoke = invoke
    command.make_context = make_context
    setattr(command, _MARK, True)
    for sub in list(getattr(command, "commands", {}).values()):
        _wrap_invoke(sub, allowed)


def _runs_consent_command(command: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """True if this invocation goes to the ``telemetry`` group: such runs must not even
    start a span (``telemetry disable`` would otherwise mint an id and write files)."""
    import sys

    argv = kwargs.get("args", args[0] if args else None)
    if argv is None:
        argv = sys.argv[1:]
    first = next((a for a in argv if isinstance(a, str) and not a.startswith("-")), None)
    sub = getattr(command, "commands", {}).get(first) if first else None
    return bool(getattr(sub, SKIP, False))


def run_main(
    telemetry: Telemetry,
    main: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    command: Any = None,
) -> Any:
    """Call ``main`` inside one command span; record exactly what the process will see."""
    if command is not None and _runs_consent_command(command, args, kwargs):
        return main(*args, **kwargs)
    standalone = kwargs.get("standalone_mode", True)
    with telemetry.command("") as handle:
        handle.options = set()
        token = _current.set(handle)
        try:
            result = main(*args, **kwargs)
        finally:
            _current.reset(token)
        if not standalone and isinstance(result, int) and not isinstance(result, bool):
            handle.exit_code = result  # ctx.exit(n) returns n when not standalone
        return result


def instrument_command(command: Any, telemetry: Telemetry, options: Collection[str] = ()) -> Any:
    """Instrument a click command or group (and every subcommand) in place; returns it."""
    allowed = frozenset(options)
    _wrap_invoke(command, allowed)
    if not getattr(command, "_otel_cli_telemetry_main", False):
        original_main = command.main

        def main(*args: Any, **kwargs: Any) -> Any:
            return run_main(telemetry, original_main, args, kwargs, command)

        command.main = main
        command._otel_cli_telemetry_main = True
    return command
