"""An example argparse CLI ("tasks") instrumented with otel-cli-telemetry.

python examples/argparse_cli.py add "write report"
python examples/argparse_cli.py done 3
"""

from __future__ import annotations

import argparse
import sys

from otel_cli_telemetry import Telemetry

telemetry = Telemetry("tasks", version="2.0.0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tasks", description="Track tasks (an example CLI).")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a task")
    add.add_argument("text")
    done = sub.add_parser("done", help="mark a task done")
    done.add_argument("number", type=int)
    args = parser.parse_args(argv)

    with telemetry.command(args.command) as handle:
        if args.command == "add":
            print(f"added a task of {len(args.text)} characters")
        elif args.number < 1:
            print("no such task", file=sys.stderr)
            handle.exit_code = 1
        else:
            print(f"task {args.number} done")
    return handle.exit_code or 0


if __name__ == "__main__":
    sys.exit(main())
