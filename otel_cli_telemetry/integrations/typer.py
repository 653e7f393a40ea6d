"""typer integration: instrument a whole app in one call, and mount the consent commands.

>>> instrument(app, telemetry)                                 # doctest: +SKIP
>>> app.add_typer(consent_app(telemetry), name="telemetry")   # doctest: +SKIP
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable, Collection
from typing import Any, Optional

import typer

from .. import cli
from ..telemetry import Telemetry
from ._clickish import instrument_command

__all__ = ["consent_app", "instrument"]


_pending: contextvars.ContextVar[tuple[typer.Typer, Telemetry, frozenset[str]] | None] = (
    contextvars.ContextVar("otel_cli_telemetry_typer_pending", default=None)
)
_original_get_command: Callable[[typer.Typer], Any] | None = None


def _get_command(app: typer.Typer) -> Any:
    """typer's own ``get_command``, instrumenting the command it builds for an
    instrumented app while that app is being called."""
    assert _original_get_command is not None
    command = _original_get_command(app)
    pending = _pending.get()
    if pending is not None and pending[0] is app:
        instrument_command(command, pending[1], pending[2])
    return command


def _patch_get_command() -> None:
    # Typer.__call__ builds a fresh click command on every call through the module-level
    # get_command, inside its own exception handling (pretty tracebacks). Wrapping that
    # function, rather than replacing __call__, keeps typer's behaviour byte for byte.
    global _original_get_command
    if _original_get_command is None:
        _original_get_command = typer.main.get_command
        typer.main.get_command = _get_command  # type: ignore[assignment]


class _InstrumentedTyper(typer.Typer):
    """A Typer whose calls build an instrumented command."""

    _otel_cli_telemetry: tuple[Telemetry, frozenset[str]]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        telemetry, options = self._otel_cli_telemetry
        token = _pending.set((self, telemetry, options))
        try:
            return super().__call__(*args, **kwargs)
        finally:
            _pending.reset(token)


def instrument(
    app: typer.Typer, telemetry: Telemetry, *, options: Collection[str] = ()
) -> typer.Typer:
    """Make every run of ``app`` one span named after the full command path.

    ``options`` allow-lists option names whose presence is recorded; values never are.
    The app object is instrumented in place (so console-script entry points pointing at
    it keep working) and returned.
    """
    _patch_get_command()
    app._otel_cli_telemetry = (telemetry, frozenset(options))  # type: ignore[attr-defined]
    if not isinstance(app, _InstrumentedTyper):
        app.__class__ = _InstrumentedTyper
    return app


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
