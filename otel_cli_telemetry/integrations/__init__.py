"""Framework integrations; each module imports its framework, so import the one you use:
``integrations.click``, ``integrations.typer`` or ``integrations.argparse``.

What follows is the part of the click and typer integrations that every run of an
instrumented app pays, opted out or not (here, not in a module of its own: a package's
modules load it anyway, and each module more costs an import on every command).

``instrument_command`` only wraps the root's ``main``, duck-typed (typer ships its own copy
of click, ``typer._click``, whose classes are not click's). Each run asks consent first;
only a run that records loads ``_clicktree``, which names the span after the command path
and records the exit. An opted-out run touches nothing of the command tree.
"""

__all__: "list[str]" = []  # nothing public here: the framework modules are the API

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from typing import Any

    from otel_cli_telemetry.telemetry import Telemetry

#: Set on the consent group: running ``telemetry disable`` must not itself be recorded.
SKIP = "_otel_cli_telemetry_skip"
_MAIN = "_otel_cli_telemetry_main"


def _runs_consent_command(
    command: "Any", args: "tuple[Any, ...]", kwargs: "dict[str, Any]"
) -> bool:
    """True if this invocation goes to the ``telemetry`` group: such runs must not even
    start a span (``telemetry disable`` would otherwise mint an id and write files)."""
    argv = kwargs.get("args", args[0] if args else None)
    if argv is None:
        argv = sys.argv[1:]
    first = next((a for a in argv if isinstance(a, str) and not a.startswith("-")), None)
    sub = getattr(command, "commands", {}).get(first) if first else None
    return bool(getattr(sub, SKIP, False))


def run_main(
    telemetry: "Telemetry",
    main: "Callable[..., Any]",
    args: "tuple[Any, ...]",
    kwargs: "dict[str, Any]",
    command: "Any" = None,
    allowed: "frozenset[str]" = frozenset(),
) -> "Any":
    """Call ``main`` inside one command span; record exactly what the process will see."""
    if command is not None and _runs_consent_command(command, args, kwargs):
        return main(*args, **kwargs)
    with telemetry.command("") as handle:
        if not handle.recording:
            return main(*args, **kwargs)  # off: the tree is left as the author built it
        from otel_cli_telemetry.integrations import _clicktree

        return _clicktree.record(handle, main, args, kwargs, command, allowed, skip=SKIP)


def instrument_command(
    command: "Any", telemetry: "Telemetry", options: "Collection[str]" = ()
) -> "Any":
    """Instrument a click command or group (and every subcommand) in place; returns it."""
    if not getattr(command, _MAIN, False):
        allowed = frozenset(options)
        original_main = command.main

        def main(*args: "Any", **kwargs: "Any") -> "Any":
            return run_main(telemetry, original_main, args, kwargs, command, allowed)

        command.main = main
        setattr(command, _MAIN, True)
    return command
