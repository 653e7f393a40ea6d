"""A small argparse CLI that ``bench_loop.py`` runs a thousand times in a row: ``loop_cli.py run``.

Lighter than ``reference_cli.py`` (no typer, rich or httpx), so a loop of 1000 runs per mode
takes minutes; its one command does trivial work. ``BENCH_MODE`` picks the instrumentation:

=====================  ======================================================================
``bare``               no telemetry code at all (``otel_cli_telemetry`` is not imported)
``enabled``            this library: ``otel_cli_telemetry.integrations.argparse.run``; the
                       benchmark sets ``OTEL_EXPORTER_OTLP_ENDPOINT``. The span is spooled and
                       one coalesced exporter child per app and user delivers it.
``per_command_child``  the design of the anchors (azure-cli, next.js): the CLI records its
                       command in a small dict and, once the command is over, starts one
                       detached child *per command* (``loop_child.py``, own session, stdio on
                       /dev/null, not waited for) that imports httpx, the OpenTelemetry SDK and
                       the OTLP exporter's encoder and sends that one span itself.
=====================  ======================================================================

Nothing is printed on stderr; stdout gets one line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

MODES = ("bare", "enabled", "per_command_child")
SERVICE = "benchloop"
VERSION = "1.0.0"
CHILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loop_child.py")


def cmd_run(args: argparse.Namespace) -> int:
    """Trivial work: add up some squares and print the total."""
    total = sum(i * i for i in range(args.count))
    print(f"total = {total}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=SERVICE, description="Loop CLI of the benchmark.")
    sub = parser.add_subparsers(required=True)
    run = sub.add_parser("run", help="trivial work")
    run.add_argument("--count", type=int, default=1000)
    run.set_defaults(func=cmd_run)
    return parser


def run_bare(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


def run_enabled(argv: list[str] | None) -> int:
    from otel_cli_telemetry import Telemetry
    from otel_cli_telemetry.integrations.argparse import run

    telemetry = Telemetry(SERVICE, version=VERSION, env_prefix="BENCHCLI")
    return run(telemetry, build_parser(), argv)


def run_per_command_child(argv: list[str] | None) -> int:
    """Record the command cheaply, then hand it to a detached child of its own."""
    import contextlib
    import json
    import subprocess

    started_ns = time.time_ns()
    code = 1
    try:
        code = run_bare(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise
    finally:
        ended_ns = time.time_ns()
        record = {
            "name": f"{SERVICE} run",
            "service": SERVICE,
            "version": VERSION,
            "start_ns": started_ns,
            "end_ns": ended_ns,
            "attributes": {
                "process.executable.name": os.path.basename(sys.executable),
                "process.pid": os.getpid(),
                "process.exit.code": code,
                "cli_telemetry.outcome": "success" if code == 0 else "error",
                "cli_telemetry.duration_ms": (ended_ns - started_ns) / 1e6,
            },
        }
        # As the anchors do: the payload on the child's command line, the parent's
        # environment as is, a new session, stdio on /dev/null, and no wait.
        with contextlib.suppress(OSError):
            subprocess.Popen(
                [sys.executable, CHILD_SCRIPT, json.dumps(record, separators=(",", ":"))],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,
            )
    return code


def main(argv: list[str] | None = None) -> int:
    mode = os.environ.get("BENCH_MODE", "bare")
    if mode == "bare":
        return run_bare(argv)
    if mode == "enabled":
        return run_enabled(argv)
    if mode == "per_command_child":
        return run_per_command_child(argv)
    raise SystemExit(f"BENCH_MODE must be one of {', '.join(MODES)}, not {mode!r}")


if __name__ == "__main__":
    sys.exit(main())
