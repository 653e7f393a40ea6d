"""An example typer CLI ("assembly") instrumented with otel-cli-telemetry.

python examples/typer_cli.py transcribe talk.wav
python examples/typer_cli.py telemetry status
"""

from __future__ import annotations

import sys
import time

import typer

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.integrations.typer import consent_app, instrument

telemetry = Telemetry("assembly", version="1.2.3", env_prefix="ASSEMBLY")
app = typer.Typer(help="Transcribe audio (an example CLI).", add_completion=False)
app.add_typer(consent_app(telemetry), name="telemetry")


@app.command()
def transcribe(path: str, language: str = "en") -> None:
    """Pretend to transcribe PATH."""
    with telemetry.tracer.start_as_current_span("load model"):
        time.sleep(0.005)
    typer.echo(f"transcribed {len(path)} characters of path name")


@app.command()
def fail(code: int = 3) -> None:
    """Exit with CODE through typer.Exit."""
    raise typer.Exit(code)


@app.command()
def crash(secret: str = "hunter2") -> None:
    """Raise an exception whose message must never be sent."""
    raise RuntimeError(f"boom with {secret}")


@app.command()
def interrupt() -> None:
    """Behave as if the user pressed Ctrl-C."""
    raise KeyboardInterrupt


@app.command(name="exit-message")
def exit_message() -> None:
    """sys.exit("message"): exit code 1, the message on stderr."""
    sys.exit("fatal: something went wrong")


# One call: every command becomes a span named after its path (`assembly transcribe`).
instrument(app, telemetry, options=["--language"])

if __name__ == "__main__":
    app()
