"""A small click or typer group, instrumented as the README says (``consent_group`` /
``consent_app`` + ``instrument``): ``BENCH_FRAMEWORK=click|typer python framework_cli.py run``.

``BENCH_MODE=bare``: the same group, no telemetry code. Any other mode instruments it; the
environment decides the rest (``DO_NOT_TRACK=1`` for off, ``OTEL_EXPORTER_OTLP_ENDPOINT``).
"""

import os
import sys

from _modes import ENV_PREFIX, MODE, SERVICE, VERSION

FRAMEWORK = os.environ.get("BENCH_FRAMEWORK", "click")


def work(count: int) -> None:
    """Trivial work: add up some squares and print the total."""
    print(f"total = {sum(i * i for i in range(count))}")


def click_app() -> object:
    import click

    @click.group(help="Click benchmark CLI.")
    def cli() -> None:
        pass

    @cli.command()
    @click.option("--count", type=int, default=1000)
    def run(count: int) -> None:
        """Trivial work."""
        work(count)

    if MODE != "bare":
        from otel_cli_telemetry import Telemetry
        from otel_cli_telemetry.integrations.click import consent_group, instrument

        telemetry = Telemetry(SERVICE, version=VERSION, env_prefix=ENV_PREFIX)
        cli.add_command(consent_group(telemetry))
        instrument(cli, telemetry)
    return cli


def typer_app() -> object:
    import typer

    app = typer.Typer(add_completion=False, help="Typer benchmark CLI.")

    @app.callback()
    def main_options() -> None:
        """Typer benchmark CLI."""

    @app.command()
    def run(count: int = 1000) -> None:
        """Trivial work."""
        work(count)

    if MODE != "bare":
        from otel_cli_telemetry import Telemetry
        from otel_cli_telemetry.integrations.typer import consent_app, instrument

        telemetry = Telemetry(SERVICE, version=VERSION, env_prefix=ENV_PREFIX)
        app.add_typer(consent_app(telemetry), name="telemetry")
        instrument(app, telemetry)
    return app


if __name__ == "__main__":
    if FRAMEWORK not in ("click", "typer"):
        sys.exit(f"BENCH_FRAMEWORK must be click or typer, not {FRAMEWORK!r}")
    app = click_app() if FRAMEWORK == "click" else typer_app()
    app()  # type: ignore[operator]
