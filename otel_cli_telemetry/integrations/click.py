"""click integration: instrument a whole CLI in one call, and mount the consent commands.

>>> instrument(cli, telemetry)                  # doctest: +SKIP
>>> cli.add_command(consent_group(telemetry))   # doctest: +SKIP

A one-command app (``@click.command()``) is instrumented the same way, without the group.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import Any

import click

from otel_cli_telemetry._admin import commands as cli
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


def consent_group(
    telemetry: Telemetry, name: str = "telemetry", *, hidden: bool = False
) -> click.Group:
    """Build the group; mount it on the root group with ``cli.add_command(...)``.
    ``hidden=True`` keeps it out of the root's ``--help``; it still runs.

    A one-command app (``@click.command()``) has no group to mount it on: leave it out; its
    users reach the same commands with ``python -m otel_cli_telemetry --service NAME``, which
    the first-run notice then names.
    """

    @click.group(
        name=name, help=f"Control the usage telemetry of {telemetry.app_name}.", hidden=hidden
    )
    def group() -> None:
        pass

    setattr(group, SKIP, True)
    # Mounted on the root (the documented way): the first-run notice names these commands.
    telemetry.consent_command = f"{telemetry.app_name} {name}"

    for command in cli.COMMANDS:
        group.add_command(_click_command(command, telemetry))
    return group


def _click_command(command: cli.AdminCommand, telemetry: Telemetry) -> click.Command:
    """A click command for one entry of the admin command table."""

    def callback(**options: Any) -> None:
        code = command.run(telemetry, sys.stdout, **options)
        if code:
            sys.exit(code)

    params: list[click.Parameter] = [
        # A bare identifier among the declarations is the parameter's name (``--json`` is
        # passed as ``as_json``, as argparse's ``dest`` does).
        click.Option([*o.flags, o.dest], is_flag=True, help=o.help)
        if o.is_flag
        else click.Option([*o.flags, o.dest], type=o.kind, default=o.default, help=o.help)
        for o in command.options
    ]
    return click.Command(command.name, callback=callback, params=params, help=command.help)
