"""typer integration: instrument a whole app in one call, and mount the consent commands.

>>> instrument(app, telemetry)                                 # doctest: +SKIP
>>> app.add_typer(consent_app(telemetry), name="telemetry")   # doctest: +SKIP

A one-command app (a single ``@app.command()``, no callback) needs no ``consent_app``: its
users reach the consent commands with ``python -m otel_cli_telemetry --service NAME``, which
the first-run notice names.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import Any, Optional

import typer

from otel_cli_telemetry._admin import cli
from otel_cli_telemetry.integrations._clickish import instrument_command
from otel_cli_telemetry.telemetry import Telemetry

__all__ = ["consent_app", "instrument"]


def _instrumented(base: type[Any], telemetry: Telemetry, options: frozenset[str]) -> type[Any]:
    """A subclass of typer's click class that instruments each instance it builds.

    typer builds a fresh click command on every ``app()`` and in ``typer.testing.CliRunner``;
    giving the app this class (``info.cls``) covers both without touching typer's own
    exception handling (pretty tracebacks stay exactly as they were).
    """

    class Instrumented(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            instrument_command(self, telemetry, options)

    Instrumented.__name__ = Instrumented.__qualname__ = f"Instrumented{base.__name__}"
    return Instrumented


def instrument(
    app: typer.Typer, telemetry: Telemetry, *, options: Collection[str] = ()
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


def _is_consent_app(sub: typer.Typer | None) -> bool:
    cls = getattr(getattr(sub, "info", None), "cls", None)
    return isinstance(cls, type) and issubclass(cls, _ConsentGroup)


class _ConsentGroup(typer.core.TyperGroup):
    """The consent commands are not recorded: ``telemetry disable`` must leave no trace."""

    _otel_cli_telemetry_skip = True


def consent_app(telemetry: Telemetry) -> typer.Typer:
    """Build the sub-app; mount it with ``app.add_typer(consent_app(t), name="telemetry")``."""
    sub = typer.Typer(
        help=f"Control the usage telemetry of {telemetry.app_name}.", cls=_ConsentGroup
    )

    @sub.command(help="Say whether telemetry is on, and which rule decided.")
    def status() -> None:
        cli.do_status(telemetry, sys.stdout)

    @sub.command(help="Send anonymous usage telemetry (saved; env variables still win).")
    def enable() -> None:
        cli.do_enable(telemetry, sys.stdout)

    @sub.command(help=cli.command_named("local").help)
    def local() -> None:
        cli.do_local(telemetry, sys.stdout)

    @sub.command(help=cli.command_named("disable").help)
    def disable() -> None:
        cli.do_disable(telemetry, sys.stdout)

    @sub.command(help=cli.command_named("reset").help)
    def reset() -> None:
        cli.do_reset(telemetry, sys.stdout)

    @sub.command(help=cli.command_named("disclosure").help)
    def disclosure() -> None:
        cli.do_disclosure(telemetry, sys.stdout)

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
