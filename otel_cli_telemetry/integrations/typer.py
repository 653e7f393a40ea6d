"""typer integration: instrument a whole app in one call, and mount the consent commands.

>>> instrument(app, telemetry)                                 # doctest: +SKIP
>>> app.add_typer(consent_app(telemetry), name="telemetry")   # doctest: +SKIP

A one-command app (a single ``@app.command()``, no callback) needs no ``consent_app``: its
users reach the consent commands with ``python -m otel_cli_telemetry --service NAME``, which
the first-run notice names.

An opted-out run pays for this module and the package only: typer makes the consent
group empty on every run, and its commands come from the admin table when something first
looks at them (``app telemetry ...`` runs, or its ``--help``); the command tree is wrapped
only on a run that records.
"""

import sys

import typer

from otel_cli_telemetry.integrations import instrument_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, MutableMapping
    from typing import Any

    from otel_cli_telemetry._admin.commands import AdminCommand
    from otel_cli_telemetry.telemetry import Telemetry

__all__ = ["consent_app", "instrument"]


def _instrumented(
    base: "type[Any]", telemetry: "Telemetry", options: "frozenset[str]"
) -> "type[Any]":
    """A subclass of typer's click class that instruments each instance it builds.

    typer builds a fresh click command on every ``app()`` and in ``typer.testing.CliRunner``;
    giving the app this class (``info.cls``) covers both without touching typer's own
    exception handling (pretty tracebacks stay exactly as they were).
    """

    class Instrumented(base):  # type: ignore[misc]
        def __init__(self, *args: "Any", **kwargs: "Any") -> None:
            super().__init__(*args, **kwargs)
            instrument_command(self, telemetry, options)

    Instrumented.__name__ = Instrumented.__qualname__ = f"Instrumented{base.__name__}"
    return Instrumented


def instrument(
    app: typer.Typer, telemetry: "Telemetry", *, options: "Collection[str]" = ()
) -> typer.Typer:
    """Make every run of ``app`` one span named after the full command path.

    Call it once the commands (and ``consent_app``) are added. A one-command app stays one:
    a consent sub-app mounted on it is taken off again (see the module's docstring).
    ``options`` allow-lists option names whose presence is recorded; values never are.
    The app is instrumented in place (console-script entry points pointing at it keep
    working) and returned.
    """
    allowed = frozenset(options)
    consent = [g for g in app.registered_groups if _is_consent_app(g.typer_instance)]
    others = [g for g in app.registered_groups if g not in consent]
    if len(app.registered_commands) == 1 and not others and not app.registered_callback:
        # typer runs a lone command as a plain command, not a group. A consent sub-app
        # mounted on it would turn it into a group (`app file.txt` would then fail with
        # "No such command"): it is unmounted, and the notice names the module CLI.
        app.registered_groups[:] = others
        telemetry.consent_command = None
        info = app.registered_commands[0]
        command_base: type[Any] = (
            info.cls if isinstance(info.cls, type) else typer.core.TyperCommand
        )
        info.cls = _instrumented(command_base, telemetry, allowed)
    else:
        if consent:
            sub_app = consent[0].typer_instance
            mounted = consent[0].name or (sub_app.info.name if sub_app else None) or "telemetry"
            telemetry.consent_command = f"{telemetry.app_name} {mounted}"
        group_base: type[Any] = (
            app.info.cls if isinstance(app.info.cls, type) else typer.core.TyperGroup
        )
        app.info.cls = _instrumented(group_base, telemetry, allowed)
    return app


def _is_consent_app(sub: "typer.Typer | None") -> bool:
    cls = getattr(getattr(sub, "info", None), "cls", None)
    return isinstance(cls, type) and issubclass(cls, _ConsentGroup)


class _ConsentGroup(typer.core.TyperGroup):
    """The consent commands are not recorded: ``telemetry disable`` must leave no trace.

    typer makes this group afresh on every run, empty (the sub-app registers no command);
    its commands are made from the admin table when something first reads ``commands``.
    ``consent_app`` gives each sub-app a subclass that names its Telemetry."""

    _otel_cli_telemetry_skip = True
    _telemetry: "Telemetry"
    _commands: "MutableMapping[str, Any]"
    _built = True

    def __init__(self, **attrs: "Any") -> None:
        super().__init__(**attrs)
        self._built = False  # after typer's own ``self.commands = {}``

    @property
    def commands(self) -> "MutableMapping[str, Any]":
        if not self._built:
            self._built = True
            self._commands = {**self._admin_commands(), **self._commands}
        return self._commands

    @commands.setter
    def commands(self, value: "MutableMapping[str, Any]") -> None:
        self._commands = value
        self._built = True  # a whole new set; __init__ resets it to False after typer's

    def _admin_commands(self) -> "dict[str, Any]":
        """typer's own commands for the admin table, made as it makes any sub-app's."""
        from otel_cli_telemetry._admin.commands import COMMANDS

        table = typer.Typer(add_completion=False, rich_markup_mode=self.rich_markup_mode)
        for command in COMMANDS:
            table.command(command.name, help=command.help)(_typer_command(command, self._telemetry))
        group: Any = typer.main.get_command(table)
        return dict(group.commands)


def consent_app(telemetry: "Telemetry", *, hidden: bool = False) -> typer.Typer:
    """Build the sub-app; mount it with ``app.add_typer(consent_app(t), name="telemetry")``.

    Its commands come from the admin command table, as the click group's and the argparse
    parsers' do. ``hidden=True`` keeps it out of the app's ``--help`` (which then stays
    exactly as it was without it); ``app telemetry --help`` still lists its commands.
    """
    group = type("ConsentGroup", (_ConsentGroup,), {"_telemetry": telemetry})
    return typer.Typer(
        help=f"Control the usage telemetry of {telemetry.app_name}.", cls=group, hidden=hidden
    )


def _typer_command(command: "AdminCommand", telemetry: "Telemetry") -> "Callable[..., None]":
    """A function typer reads as it reads a hand-written command: one keyword parameter per
    option of ``command``, its type as the annotation and a ``typer.Option`` as default."""
    import inspect
    from typing import Optional

    def run(**options: "Any") -> None:
        code = command.run(telemetry, sys.stdout, **options)
        if code:
            raise typer.Exit(code)

    parameters: list[inspect.Parameter] = []
    for option in command.options:
        kind: Any = bool if option.is_flag else option.kind
        if option.default is None and not option.is_flag:
            # typer reads the annotation at run time; Optional suits older typers too
            kind = Optional[kind]  # noqa: UP045
        default = False if option.is_flag else option.default
        parameters.append(
            inspect.Parameter(
                option.dest,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(default, *option.flags, help=option.help),
                annotation=kind,
            )
        )
    run.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    run.__name__ = run.__qualname__ = command.name
    return run
