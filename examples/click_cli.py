"""An example click CLI ("notes") instrumented with otel-cli-telemetry.

python examples/click_cli.py add "buy milk"
python examples/click_cli.py telemetry status
"""

from __future__ import annotations

import click

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.integrations.click import consent_group, instrument

telemetry = Telemetry("notes", version="0.4.0")


@click.group()
def cli() -> None:
    """Keep notes (an example CLI)."""


cli.add_command(consent_group(telemetry))


@cli.command()
@click.argument("text")
def add(text: str) -> None:
    """Add a note."""
    click.echo(f"added a note of {len(text)} characters")


@cli.command()
def remove() -> None:
    """Refuse, with a click usage error."""
    raise click.UsageError("nothing to remove")


instrument(cli, telemetry)

if __name__ == "__main__":
    cli()
