"""The table of the consent commands: names, help and options, and nothing else loaded.

The click group, the typer app and the argparse ``telemetry`` subcommands are made from it
when something first looks at them (one of the commands runs, or their ``--help``), never on
an app's ordinary run; the module CLI builds its parser from it too. It imports nothing:
each command's code (``verbs``, ``show``, the OTLP reader) loads only when that command runs.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace
    from typing import Any, TextIO

    from otel_cli_telemetry.telemetry import Telemetry


class Option:
    """One option of an admin command, in a shape argparse and click both take."""

    def __init__(
        self,
        *flags: str,
        dest: str,
        kind: type = str,
        default: "Any" = None,
        is_flag: bool = False,
        help: str = "",
    ) -> None:
        self.flags = flags
        self.dest = dest
        self.kind = kind
        self.default = default
        self.is_flag = is_flag
        self.help = help


class AdminCommand:
    """One admin command: its name, one line of help, options, and what it does:
    ``run(telemetry, out, **options) -> exit code`` calls ``action``, a function of
    ``otel_cli_telemetry._admin.verbs`` (imported then; it never imports this table)."""

    def __init__(
        self, name: str, help: str, action: str, options: "tuple[Option, ...]" = ()
    ) -> None:
        self.name = name
        self.help = help
        self.action = action
        self.options = options

    def run(self, telemetry: "Telemetry", out: "TextIO", **options: "Any") -> int:
        from otel_cli_telemetry._admin import verbs

        # A state directory it cannot use is one line on stderr, never a traceback.
        action = getattr(verbs, self.action)
        code: int = verbs.guarded(self.name, action)(telemetry, out, **options)
        return code

    def add_arguments(self, parser: "ArgumentParser") -> None:
        """Give an argparse parser the options of this command."""
        for option in self.options:
            if option.is_flag:
                parser.add_argument(
                    *option.flags, dest=option.dest, action="store_true", help=option.help
                )
            else:
                parser.add_argument(
                    *option.flags,
                    dest=option.dest,
                    type=option.kind,
                    default=option.default,
                    help=option.help,
                )

    def run_parsed(self, telemetry: "Telemetry", args: "Namespace") -> int:
        """Run this command with the options argparse parsed into ``args``."""
        import sys

        options = {o.dest: getattr(args, o.dest, o.default) for o in self.options}
        return self.run(telemetry, sys.stdout, **options)


#: The one table the module CLI, click, typer and argparse integrations build from.
COMMANDS: "list[AdminCommand]" = [
    AdminCommand("status", "Say whether telemetry is on, and which rule decided.", "do_status"),
    AdminCommand(
        "enable", "Send anonymous usage telemetry (saved; env variables still win).", "do_enable"
    ),
    AdminCommand(
        "local", "Record to the local file only, send nothing (saved; queue deleted).", "do_local"
    ),
    AdminCommand("disable", "Send nothing, record nothing (saved; queue deleted).", "do_disable"),
    AdminCommand(
        "reset",
        "Forget this installation: id, queue, local file, delivery state (choice kept).",
        "do_reset",
    ),
    AdminCommand(
        "disclosure",
        "Print every field this app can send to its destinations.",
        "do_disclosure",
        (Option("--all", dest="every", is_flag=True, help="Every destination's fields."),),
    ),
    AdminCommand(
        "show",
        "Print what was recorded locally or waits to be sent.",
        "do_show",
        (
            Option("--limit", dest="limit", kind=int, default=20, help="How many traces."),
            Option("--json", dest="as_json", is_flag=True, help="Raw OTLP JSON lines."),
            Option("-v", "--verbose", dest="verbose", is_flag=True, help="Every attribute."),
        ),
    ),
    AdminCommand(
        "view",
        "Write a page of what was recorded and sent (charts, no network); print its path.",
        "do_view",
        (
            Option("--open", dest="open_it", is_flag=True, help="Open it in a browser."),
            Option("--output", dest="output", help="Write it here instead."),
        ),
    ),
    AdminCommand(
        "flush",
        "Deliver waiting telemetry now (for CI jobs).",
        "do_flush",
        (Option("--timeout", dest="timeout", kind=float, help="Seconds to wait at most."),),
    ),
]


def command_named(name: str) -> AdminCommand:
    return next(c for c in COMMANDS if c.name == name)
