"""``python -m otel_cli_telemetry``: status, enable, disable, show and flush for an app.

The same actions back the command group that click and typer CLIs mount
(``otel_cli_telemetry.integrations``), so both speak the same words.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from otel_cli_telemetry.telemetry import Telemetry


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


def do_disable(telemetry: Telemetry, out: TextIO) -> int:
    telemetry.disable()
    out.write(
        f"Telemetry disabled for {telemetry.app_name} (saved to {telemetry.paths.config_file}).\n"
        "Nothing will be recorded, written or sent. DO_NOT_TRACK=1 does the same for every tool.\n"
    )
    return 0


def do_show(
    telemetry: Telemetry,
    out: TextIO,
    *,
    limit: int = 20,
    as_json: bool = False,
    verbose: bool = False,
) -> int:
    from otel_cli_telemetry._admin.show import render
    from otel_cli_telemetry._disk import spool
    from otel_cli_telemetry._exporter.sinks.file import read_requests

    paths = telemetry.paths
    pending = []
    for entry in spool.entries(paths.spool_dir)[-limit:]:
        try:
            pending.append(spool.read(entry))
        except (ValueError, OSError):
            continue
    sent = read_requests(paths.sink_file, limit=limit)
    if as_json:
        for request in sent:
            out.write(json.dumps(request) + "\n")
        for request in pending:
            out.write(json.dumps(request) + "\n")
        return 0
    lines = render(sent, label="local", verbose=verbose) + render(
        pending, label="pending", verbose=verbose
    )
    if not lines:
        out.write(
            f"Nothing recorded yet for {telemetry.app_name} in {paths.home}.\n"
            "(With an OTLP endpoint configured, delivered spans are at the endpoint, not here.)\n"
        )
        return 0
    for line in lines:
        out.write(line + "\n")
    return 0


def do_flush(telemetry: Telemetry, out: TextIO, *, timeout: float | None = None) -> int:
    """Drain in the foreground; exit code 1 if anything is still waiting afterwards."""
    interactive = _isatty(out)

    def progress(report: object) -> None:
        if interactive:  # a live progress line only where a person watches
            out.write(f"\rdelivered {getattr(report, 'delivered', 0)} trace(s)...")
            out.flush()

    report = telemetry.flush(timeout, progress=progress)
    dropped = sum(report.dropped.values())
    out.write(
        ("\r" if interactive else "") + f"flush: delivered {report.delivered}, dropped {dropped}, "
        f"still waiting {report.remaining}"
        + (f" (last error: {report.last_error})" if report.last_error else "")
        + "\n"
    )
    return 0 if report.remaining == 0 else 1


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


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
    sub.add_parser(
        "status", parents=[common], help="say whether telemetry is on and which rule decided"
    )
    sub.add_parser("enable", parents=[common], help="persist the choice to send telemetry")
    sub.add_parser("disable", parents=[common], help="persist the choice to send nothing")
    show = sub.add_parser(
        "show", parents=[common], help="print what was sent to the local sink or waits in the spool"
    )
    show.add_argument("--limit", type=int, default=20)
    show.add_argument("--json", action="store_true", help="raw OTLP JSON lines")
    show.add_argument("-v", "--verbose", action="store_true", help="every attribute")
    flush = sub.add_parser(
        "flush", parents=[common], help="deliver the spool now, in the foreground"
    )
    flush.add_argument("--timeout", type=float, default=None, help="seconds (default 10)")
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
    out = sys.stdout
    if args.action == "status":
        return do_status(telemetry, out)
    if args.action == "enable":
        return do_enable(telemetry, out)
    if args.action == "disable":
        return do_disable(telemetry, out)
    if args.action == "show":
        return do_show(telemetry, out, limit=args.limit, as_json=args.json, verbose=args.verbose)
    return do_flush(telemetry, out, timeout=args.timeout)
