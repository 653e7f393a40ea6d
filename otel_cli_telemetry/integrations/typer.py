"""A ``telemetry`` sub-app for typer CLIs: status, enable, disable, show, flush.

>>> app.add_typer(consent_app(telemetry), name="telemetry")   # doctest: +SKIP
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from .. import cli
from ..telemetry import Telemetry


def consent_app(telemetry: Telemetry) -> typer.Typer:
    """Build the sub-app; mount it with ``app.add_typer(consent_app(t), name="telemetry")``."""
    sub = typer.Typer(help=f"Control the usage telemetry of {telemetry.app_name}.")

    @sub.command(help="Say whether telemetry is on, and which rule decided.")
    def status() -> None:
        cli.do_status(telemetry, sys.stdout)

    @sub.command(help="Send anonymous usage telemetry (saved; env variables still win).")
    def enable() -> None:
        cli.do_enable(telemetry, sys.stdout)

    @sub.command(help="Send nothing, record nothing (saved).")
    def disable() -> None:
        cli.do_disable(telemetry, sys.stdout)

    @sub.command(help="Print what was recorded locally or waits to be sent.")
    def show(
        limit: int = typer.Option(20, help="How many traces."),
        as_json: bool = typer.Option(False, "--json", help="Raw OTLP JSON lines."),
        verbose: bool = typer.Option(False, "-v", "--verbose", help="Every attribute."),
    ) -> None:
        cli.do_show(telemetry, sys.stdout, limit=limit, as_json=as_json, verbose=verbose)

    @sub.command(help="Deliver waiting telemetry now (for CI jobs).")
    def flush(
        # typer reads the annotation at run time; Optional keeps Python 3.9-era typers happy
        timeout: Optional[float] = typer.Option(None, help="Seconds to wait at most."),  # noqa: UP045
    ) -> None:
        code = cli.do_flush(telemetry, sys.stdout, timeout=timeout)
        if code:
            raise typer.Exit(code)

    return sub
