"""A one-command typer app ("wc"): it stays a one-command app (no `consent_app` to mount).

python examples/one_command_typer.py README.md
python -m otel_cli_telemetry --service wc show      # the consent commands, from outside
"""

from __future__ import annotations

import typer

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.integrations.typer import instrument

telemetry = Telemetry("wc", version="1.0.0")
app = typer.Typer()


@app.command()
def wc(path: str) -> None:
    """Count the lines of PATH."""
    with open(path, encoding="utf-8") as handle:
        print(sum(1 for _ in handle))


instrument(app, telemetry)  # one span per run, named `wc`

if __name__ == "__main__":
    app()
