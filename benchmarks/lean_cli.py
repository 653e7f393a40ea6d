"""A lean argparse CLI, stdlib only: ``python lean_cli.py run``. ``BENCH_MODE``: see _modes.py."""

import argparse
import sys

from _modes import command


def cmd_run(args: argparse.Namespace) -> int:
    """Trivial work: add up some squares and print the total."""
    with command("run") as work, work("work"):
        total = sum(i * i for i in range(args.count))
    print(f"total = {total}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchcli", description="Lean benchmark CLI.")
    sub = parser.add_subparsers(required=True)
    run = sub.add_parser("run", help="trivial work")
    run.add_argument("--count", type=int, default=1000)
    run.set_defaults(func=cmd_run)
    args = parser.parse_args()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
