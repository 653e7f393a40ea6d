"""``python -m otel_cli_telemetry``: status, enable, local, disable, reset, show, flush and
disclosure for an app.

One table, ``COMMANDS`` (in ``commands``, which loads nothing), names every action with its
help and options: this module's argparse CLI, the click group and the typer app the
integrations mount, and the argparse integration's ``telemetry`` subcommands are all built
from it, so they speak the same words. The actions themselves live in ``verbs`` (loaded when
one runs); the dependencies point one way: ``cli`` -> ``commands`` -> ``verbs``.
"""

from __future__ import annotations

import argparse
import sys

from otel_cli_telemetry._admin.commands import COMMANDS, AdminCommand, Option, command_named
from otel_cli_telemetry._admin.verbs import (
    DISK_ERROR_EXIT,
    do_disable,
    do_disclosure,
    do_enable,
    do_flush,
    do_local,
    do_reset,
    do_show,
    do_status,
    do_view,
    guarded,
)  # fmt: skip
from otel_cli_telemetry.telemetry import Telemetry

__all__ = [
    "COMMANDS", "DISK_ERROR_EXIT", "AdminCommand", "Option", "build_parser", "command_named",
    "do_disable", "do_disclosure", "do_enable", "do_flush", "do_local", "do_reset", "do_show",
    "do_status", "do_view", "guarded", "main", "run_parsed",
]  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser, command: AdminCommand) -> None:
    """Give an argparse parser the options of ``command``."""
    command.add_arguments(parser)


def run_parsed(command: AdminCommand, telemetry: Telemetry, args: argparse.Namespace) -> int:
    """Run ``command`` with the options argparse parsed into ``args``."""
    return command.run_parsed(telemetry, args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m otel_cli_telemetry",
        description="Inspect and control the telemetry of a CLI built with otel-cli-telemetry.",
    )
    # The app options are accepted before or after the action.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--service", default=argparse.SUPPRESS, help="the application's service name (required)"
    )
    common.add_argument(
        "--env-prefix",
        default=argparse.SUPPRESS,
        help="its environment prefix (default: from the name)",
    )
    common.add_argument(
        "--home", default=argparse.SUPPRESS, help="its telemetry directory (default: platformdirs)"
    )
    for action in common._actions:
        parser._add_action(action)
    sub = parser.add_subparsers(dest="action", required=True)
    for command in COMMANDS:
        add_arguments(sub.add_parser(command.name, parents=[common], help=command.help), command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one action; a reader that went away (``| head``) ends it quietly."""
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return 1
    return code


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush cannot
    print a second BrokenPipeError (what Python's documentation recommends)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "service", None):
        parser.error("--service NAME is required")
    telemetry = Telemetry(
        args.service, env_prefix=getattr(args, "env_prefix", None), home=getattr(args, "home", None)
    )
    return run_parsed(command_named(args.action), telemetry, args)
