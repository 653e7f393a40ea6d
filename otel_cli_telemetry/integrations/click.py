"""click integration: instrument a whole CLI in one call, and mount the consent commands.

>>> instrument(cli, telemetry)                  # doctest: +SKIP
>>> cli.add_command(consent_group(telemetry))   # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections.abc import Collection

import click

from otel_cli_telemetry._admin import cli
from otel_cli_telemetry.integrations._clickish import SKIP, instrument_command
from otel_cli_telemetry.telemetry import Telemetry

__all__ = ["consent_group", "instrument"]


def instrument(
    command: click.Command, telemetry: Telemetry, *, options: Collection[str] = ()
) -> click.Command:
    """Make every invocation of ``command`` (a group and all its subcommands) one span.

    ``options`` allow-lists option names (``"--verbose"`` or the parameter name) whose
    *presence* is recorded in ``cli_telemetry.options``; values are never recorded.
    Works with ``standalone_mode`` on and off. Returns ``command``, instrumented in place.
    """
    result: click.Command = instrument_command(command, telemetry, options)
    return result


def consent_group(telemetry: Telemetry, name: str = "telemetry") -> click.Group:
    """Build the group; mount it with ``cli.add_command(consent_group(telemetry))``."""

    @click.group(name=name, help=f"Control the usage telemetry of {telemetry.app_name}.")
    def group() -> None:
        pass

    setattr(group, SKIP, True)

    @group.command(help="Say whether telemetry is on, and which rule decided.")
    def status() -> None:
        cli.do_status(telemetry, sys.stdout)

    @group.command(help="Send anonymous usage telemetry (saved; env variables still win).")
    def enable() -> None:
        cli.do_enable(telemetry, sys.stdout)

    @group.command(help="Send nothing, record nothing (saved).")
    def disable() -> None:
        cli.do_disable(telemetry, sys.stdout)

    @group.command(help="Print what was recorded locally or waits to be sent.")
    @click.option("--limit", default=20, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Raw OTLP JSON lines.")
    @click.option("-v", "--verbose", is_flag=True, help="Every attribute.")
    def show(limit: int, as_json: bool, verbose: bool) -> None:
        cli.do_show(telemetry, sys.stdout, limit=limit, as_json=as_json, verbose=verbose)

    @group.command(help="Deliver waiting telemetry now (for CI jobs).")
    @click.option("--timeout", type=float, default=None, help="Seconds to wait at most.")
    def flush(timeout: float | None) -> None:
        sys.exit(cli.do_flush(telemetry, sys.stdout, timeout=timeout))

    return group
