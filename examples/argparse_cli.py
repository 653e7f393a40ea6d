"""An example argparse CLI ("tasks") instrumented with otel-cli-telemetry.

python examples/argparse_cli.py add "write report"
python examples/argparse_cli.py done 3
python examples/argparse_cli.py telemetry show

The author's own main() stays as it is; ``track`` wraps it in one span and ``instrument``
names the span after the subcommand and mounts the ``telemetry`` commands.
"""

from __future__ import annotations

import argparse
import sys

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.integrations.argparse import instrument, track

telemetry = Telemetry("tasks", version="2.0.0")


def add(args: argparse.Namespace) -> int:
    print(f"added a task of {len(args.text)} characters")
    return 0


def done(args: argparse.Namespace) -> int:
    if args.number < 1:
        print("no such task", file=sys.stderr)
        return 1
    print(f"task {args.number} done")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tasks", description="Track tasks (an example CLI).")
    sub = parser.add_subparsers(required=True)
    add_parser = sub.add_parser("add", help="add a task")
    add_parser.add_argument("text")
    add_parser.set_defaults(func=add)
    done_parser = sub.add_parser("done", help="mark a task done")
    done_parser.add_argument("number", type=int)
    done_parser.set_defaults(func=done)
    return parser


parser = instrument(build_parser(), telemetry)


@track(telemetry)  # one span per run, named `tasks add` / `tasks done`
def main() -> int:
    args = parser.parse_args()
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
