"""``python -m otel_cli_telemetry``: status, enable, local, disable, reset, show, flush and
disclosure for an app.

One table, ``COMMANDS`` (in ``commands``, which loads nothing), names every action with its
help and options: this module's argparse CLI, the click group and the typer app the
integrations mount, and the argparse integration's ``telemetry`` subcommands are all built
from it, so they speak the same words. This module, the actions, loads when one runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from otel_cli_telemetry._admin.commands import COMMANDS, AdminCommand, Option, command_named
from otel_cli_telemetry._admin.show import do_show
from otel_cli_telemetry.telemetry import Telemetry

__all__ = [
    "COMMANDS", "AdminCommand", "Option", "build_parser", "command_named", "do_show", "main",
    "run_parsed",
]  # fmt: skip


def do_status(telemetry: Telemetry, out: TextIO) -> int:
    for line in telemetry.status().lines():
        out.write(line + "\n")
    return 0


def do_enable(telemetry: Telemetry, out: TextIO) -> int:
    decision = telemetry.enable()
    out.write(
        f"Telemetry enabled for {telemetry.app_name} (saved to {telemetry.paths.config_file}).\n"
    )
    if not decision.enabled:
        out.write(f"Note: still off for now, because {decision.detail}.\n")
    return 0


def _deleted(spans: int, traces: int) -> str:
    if not traces:
        return "Nothing was waiting to be sent."
    return f"Deleted {spans} span(s) ({traces} trace(s)) that were waiting to be sent."


def do_disable(telemetry: Telemetry, out: TextIO) -> int:
    change = telemetry.disable()
    out.write(
        f"Telemetry disabled for {telemetry.app_name} (saved to {telemetry.paths.config_file}).\n"
        f"{_deleted(change.deleted_spans, change.deleted_traces)}\n"
        "Nothing will be recorded, written or sent. DO_NOT_TRACK=1 does the same for every tool.\n"
    )
    return 0


def do_local(telemetry: Telemetry, out: TextIO) -> int:
    change = telemetry.local()
    out.write(
        f"Telemetry is local only for {telemetry.app_name} (saved to "
        f"{telemetry.paths.config_file}).\n"
        f"{_deleted(change.deleted_spans, change.deleted_traces)}\n"
        f"Commands are recorded to {telemetry.paths.sink_file} and never sent; "
        "`show` prints them.\n"
    )
    if change.mode != "local":
        out.write(f"Note: {change.mode} for now, because {change.detail}.\n")
    return 0


def do_reset(telemetry: Telemetry, out: TextIO) -> int:
    removed = telemetry.reset()
    out.write(
        f"Forgot this installation of {telemetry.app_name}: "
        + (", ".join(removed) if removed else "nothing was stored")
        + ".\nA new anonymous id is made on the next recorded command. Your choice is kept "
        f"in {telemetry.paths.config_file}.\n"
    )
    return 0


def do_disclosure(telemetry: Telemetry, out: TextIO, *, every: bool = False) -> int:
    out.write(telemetry.disclosure(every_destination=every))
    return 0


def do_flush(telemetry: Telemetry, out: TextIO, *, timeout: float | None = None) -> int:
    """Drain in the foreground; exit code 1 if anything is still waiting afterwards."""
    interactive = _isatty(out)

    def progress(report: object) -> None:
        if interactive:  # a live progress line only where a person watches
            out.write(f"\rdelivered {getattr(report, 'delivered', 0)} trace(s)...")
            out.flush()

    try:
        report = telemetry.flush(timeout, progress=progress)
    except OSError:
        raise  # the state directory cannot be used: ``guarded`` says so in one line
    except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
        from otel_cli_telemetry._disk import delivery

        paths = telemetry._state_paths
        delivery.record_failure(paths.delivery_file, paths.state_lock, exc, "flush")
        out.write(
            ("\r" if interactive else "")
            + f"flush: failed ({exc.__class__.__name__}); everything is still waiting\n"
        )
        return 1
    dropped = sum(report.dropped.values())
    from otel_cli_telemetry._disk.urls import redact_text

    out.write(
        ("\r" if interactive else "") + f"flush: delivered {report.delivered}, dropped {dropped}, "
        f"still waiting {report.remaining}"
        + (f" (last error: {redact_text(report.last_error)})" if report.last_error else "")
        + "\n"
    )
    return 0 if report.remaining == 0 else 1


def do_view(telemetry: Telemetry, out: TextIO, **options: Any) -> int:
    from otel_cli_telemetry._admin import view  # loaded only when asked for

    return view.do_view(telemetry, out, **options)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


#: The exit code of an admin command that could not use the state directory.
DISK_ERROR_EXIT = 1


def guarded(name: str, run: Callable[..., int]) -> Callable[..., int]:
    """``run``, with a state directory it cannot use (a file where a directory should be,
    no permission, an unsafe parent) reported as one line on stderr and exit code
    ``DISK_ERROR_EXIT``, never a traceback. In every admin surface: they all call ``run``."""

    def guarded_run(telemetry: Telemetry, out: TextIO, **options: Any) -> int:
        try:
            code: int = run(telemetry, out, **options)
            return code
        except BrokenPipeError:
            raise  # the reader went away: ``main`` ends quietly
        except OSError as exc:  # UnsafeHomeError is one too
            problem = f"cannot use {exc.filename}: {exc.strerror}" if exc.strerror else str(exc)
            out.flush()
            sys.stderr.write(f"telemetry {name}: {problem}\n")
            sys.stderr.flush()
            return DISK_ERROR_EXIT

    guarded_run.__name__ = guarded_run.__qualname__ = getattr(run, "__name__", name)
    guarded_run.__doc__ = run.__doc__
    return guarded_run


def add_arguments(parser: argparse.ArgumentParser, command: AdminCommand) -> None:
    """Give an argparse parser the options of ``command``."""
    for option in command.options:
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


def run_parsed(command: AdminCommand, telemetry: Telemetry, args: argparse.Namespace) -> int:
    """Run ``command`` with the options argparse parsed into ``args``."""
    options = {o.dest: getattr(args, o.dest, o.default) for o in command.options}
    return command.run(telemetry, sys.stdout, **options)


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
