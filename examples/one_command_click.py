"""A one-command click app ("wc"): instrumented as it is, no group needed.

python examples/one_command_click.py README.md
python -m otel_cli_telemetry --service wc show      # the consent commands, from outside
"""

from __future__ import annotations

import click

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.integrations.click import instrument

telemetry = Telemetry("wc", version="1.0.0")


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def wc(path: str) -> None:
    """Count the lines of PATH."""
    with open(path, encoding="utf-8") as handle:
        click.echo(sum(1 for _ in handle))


instrument(wc, telemetry)  # one span per run, named `wc`

if __name__ == "__main__":
    wc()
