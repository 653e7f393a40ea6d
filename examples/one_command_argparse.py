"""A one-command argparse app ("wc") with its own main(), kept as it is.

python examples/one_command_argparse.py README.md
python -m otel_cli_telemetry --service wc show      # the consent commands, from outside
"""

from __future__ import annotations

import argparse
import sys

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.integrations.argparse import instrument, track

telemetry = Telemetry("wc", version="1.0.0")
parser = argparse.ArgumentParser(prog="wc", description="Count the lines of a file.")
parser.add_argument("path")
instrument(parser, telemetry)  # no subcommands: nothing is added to the parser


@track(telemetry)  # one span per run, named `wc`
def main() -> int:
    args = parser.parse_args()
    try:
        with open(args.path, encoding="utf-8") as handle:
            print(sum(1 for _ in handle))
    except OSError as exc:
        print(f"wc: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
