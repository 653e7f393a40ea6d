"""What a recorded click (or typer) run adds to the span: loaded only when consent said yes.

What is used of click: ``Command.main``, ``Command.invoke``, ``Command.make_context``,
``Group.commands``, ``Context.parent/info_name/params/get_parameter_source`` and
``Parameter.opts``.

- The span covers ``main()``: parsing, usage errors and the exit included.
- Its name is the full command path, ``assembly transcript get``, set when the innermost
  command is invoked (a usage error before that leaves the app's name).
- The exit code is what the process really exits with (click turns Ctrl-C into exit 1,
  typer into 130); outcome and ``error.type`` come from what escaped the command's code.
- Option *names* the user gave may be recorded, only those the author allow-lists;
  values never.
"""

try:  # ``contextvars`` only re-exports the C module: one module less to load
    from _contextvars import ContextVar
except ImportError:  # pragma: no cover - another Python
    from contextvars import ContextVar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from typing import Any

    from otel_cli_telemetry._process.run import CommandHandle

OPTIONS_ATTRIBUTE = "cli_telemetry.options"
_MARK = "_otel_cli_telemetry_instrumented"
_current: "ContextVar[CommandHandle | None]" = ContextVar(
    "otel_cli_telemetry_click_handle", default=None
)


def command_path(ctx: "Any") -> str:
    """Subcommand names from the root's child down to ``ctx`` (the program name left out)."""
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.append(str(ctx.info_name))
        ctx = ctx.parent
    return " ".join(reversed(names))


def given_options(ctx: "Any", allowed: "Collection[str]") -> list[str]:
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


def wrap_tree(command: "Any", allowed: "frozenset[str]", skip: str) -> None:
    """Wrap ``invoke`` and ``make_context`` of ``command`` and of every subcommand (once
    each), so the span follows the run down the tree. A command that has the attribute
    ``skip`` set (the consent group) discards the span when it runs, and its own commands
    are left alone (never recorded; made only when one runs)."""
    if getattr(command, _MARK, False):
        return
    skipped = bool(getattr(command, skip, False))
    original: Callable[[Any], Any] = command.invoke

    def invoke(ctx: "Any") -> "Any":
        handle = _current.get()
        if handle is not None and skipped:
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

    def make_context(info_name: "Any", args: "Any", parent: "Any" = None, **extra: "Any") -> "Any":
        # Named before its arguments are parsed, so a usage error of `app sub leaf`
        # is recorded under `leaf`, not under its group.
        handle = _current.get()
        if handle is not None and parent is not None and not skipped:
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
    if skipped:
        return
    for sub in list(getattr(command, "commands", {}).values()):
        wrap_tree(sub, allowed, skip)


def record(
    handle: "CommandHandle",
    main: "Callable[..., Any]",
    args: "tuple[Any, ...]",
    kwargs: "dict[str, Any]",
    command: "Any",
    allowed: "frozenset[str]",
    *,
    skip: str,
) -> "Any":
    """Run ``main`` with ``handle`` current, the tree under ``command`` wrapped."""
    if command is not None:
        wrap_tree(command, allowed, skip)
    handle.options = set()
    token = _current.set(handle)
    try:
        result = main(*args, **kwargs)
    finally:
        _current.reset(token)
    standalone = kwargs.get("standalone_mode", True)
    if not standalone and isinstance(result, int) and not isinstance(result, bool):
        handle.exit_code = result  # ctx.exit(n) returns n when not standalone
    return result
