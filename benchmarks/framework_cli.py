"""A small click group, typer app or argparse CLI, instrumented as the README says
(``consent_group`` / ``consent_app`` + ``instrument``; argparse: ``instrument`` + ``track``):
``BENCH_FRAMEWORK=click|typer|argparse python framework_cli.py run``.

``BENCH_MODE=bare``: the same CLI, no telemetry code. Any other mode instruments it; the
environment decides the rest (``DO_NOT_TRACK=1`` for off, ``OTEL_EXPORTER_OTLP_ENDPOINT``).
``BENCH_WAY=command``: no integration, the whole run inside ``telemetry.command("run")``
instead (the package's light entry and usage path alone, to see what an integration adds).
"""

import os
import sys

from _modes import ENV_PREFIX, MODE, SERVICE, VERSION

FRAMEWORK = os.environ.get("BENCH_FRAMEWORK", "click")
WAY = os.environ.get("BENCH_WAY", "integration")
INSTRUMENTED = MODE != "bare" and WAY == "integration"


def work(count: int) -> None:
    """Trivial work: add up some squares and print the total."""
    print(f"total = {sum(i * i for i in range(count))}")


def telemetry() -> object:
    from otel_cli_telemetry import Telemetry

    return Telemetry(SERVICE, version=VERSION, env_prefix=ENV_PREFIX)


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

    if INSTRUMENTED:
        from otel_cli_telemetry.integrations.click import consent_group, instrument

        t = telemetry()
        cli.add_command(consent_group(t))  # type: ignore[arg-type]
        instrument(cli, t)  # type: ignore[arg-type]
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

    if INSTRUMENTED:
        from otel_cli_telemetry.integrations.typer import consent_app, instrument

        t = telemetry()
        app.add_typer(consent_app(t), name="telemetry")  # type: ignore[arg-type]
        instrument(app, t)  # type: ignore[arg-type]
    return app


def argparse_app() -> object:
    import argparse

    parser = argparse.ArgumentParser(prog="benchcli", description="Argparse benchmark CLI.")
    sub = parser.add_subparsers(required=True)
    run = sub.add_parser("run", help="trivial work")
    run.add_argument("--count", type=int, default=1000)
    run.set_defaults(func=lambda args: work(args.count))

    def main() -> int:
        args = parser.parse_args()
        args.func(args)
        return 0

    if INSTRUMENTED:
        from otel_cli_telemetry.integrations.argparse import instrument, track

        t = telemetry()
        instrument(parser, t)  # type: ignore[arg-type]
        return track(t)(main)  # type: ignore[arg-type]
    return main


APPS = {"click": click_app, "typer": typer_app, "argparse": argparse_app}

if __name__ == "__main__":
    if FRAMEWORK not in APPS:
        sys.exit(f"BENCH_FRAMEWORK must be click, typer or argparse, not {FRAMEWORK!r}")
    app = APPS[FRAMEWORK]()
    if MODE != "bare" and WAY == "command":
        with telemetry().command("run"):  # type: ignore[attr-defined]
            app()  # type: ignore[operator]
    else:
        sys.exit(app())  # type: ignore[operator]
