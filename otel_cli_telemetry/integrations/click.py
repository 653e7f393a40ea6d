"""click integration: instrument a whole CLI in one call, and mount the consent commands.

>>> instrument(cli, telemetry)                  # doctest: +SKIP
>>> cli.add_command(consent_group(telemetry))   # doctest: +SKIP

A one-command app (``@click.command()``) is instrumented the same way, without the group.

An opted-out run pays for this module and the package only: the consent group's commands
are made from the admin table when something first looks at them (``telemetry ...`` runs,
or its ``--help``), and the command tree is wrapped only on a run that records.
"""

import sys

import click

from otel_cli_telemetry.integrations import SKIP, instrument_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, MutableMapping
    from typing import Any

    from otel_cli_telemetry._admin.commands import AdminCommand
    from otel_cli_telemetry.telemetry import Telemetry

__all__ = ["consent_group", "instrument"]


def instrument(
    command: click.Command, telemetry: "Telemetry", *, options: "Collection[str]" = ()
) -> click.Command:
    """Make every invocation of ``command`` (a group and all its subcommands) one span.

    ``options`` allow-lists option names (``"--verbose"`` or the parameter name) whose
    *presence* is recorded in ``cli_telemetry.options``; values are never recorded.
    Works with ``standalone_mode`` on and off. Returns ``command``, instrumented in place.
    """
    result: click.Command = instrument_command(command, telemetry, options)
    return result


class _ConsentGroup(click.Group):
    """The consent group: its commands come from the admin table on first use."""

    _commands: "MutableMapping[str, click.Command]"

    def __init__(self, telemetry: "Telemetry", **attrs: "Any") -> None:
        self._telemetry = telemetry
        super().__init__(**attrs)
        self._built = False  # after click's own ``self.commands = {}``

    @property
    def commands(self) -> "MutableMapping[str, click.Command]":
        if not self._built:
            from otel_cli_telemetry._admin.commands import COMMANDS

            self._built = True
            table = {c.name: _click_command(c, self._telemetry) for c in COMMANDS}
            self._commands = {**table, **self._commands}  # then those added since
        return self._commands

    @commands.setter
    def commands(self, value: "MutableMapping[str, click.Command]") -> None:
        self._commands = value
        self._built = True  # a whole new set; click's __init__ resets it to False after


setattr(_ConsentGroup, SKIP, True)


def consent_group(
    telemetry: "Telemetry", name: str = "telemetry", *, hidden: bool = False
) -> click.Group:
    """Build the group; mount it on the root group with ``cli.add_command(...)``.
    ``hidden=True`` keeps it out of the root's ``--help``; it still runs.

    A one-command app (``@click.command()``) has no group to mount it on: leave it out; its
    users reach the same commands with ``python -m otel_cli_telemetry --service NAME``, which
    the first-run notice then names.
    """
    # Mounted on the root (the documented way): the first-run notice names these commands.
    telemetry.consent_command = f"{telemetry.app_name} {name}"
    help_text = f"Control the usage telemetry of {telemetry.app_name}."
    return _ConsentGroup(telemetry, name=name, help=help_text, hidden=hidden)


def _click_command(command: "AdminCommand", telemetry: "Telemetry") -> click.Command:
    """A click command for one entry of the admin command table."""

    def callback(**options: "Any") -> None:
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
