"""One command run: the context manager behind ``telemetry.command()`` and the handle it
yields. Kept apart from ``Telemetry`` so each stays one job."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import command

if TYPE_CHECKING:
    from .pipeline import CommandSpan
    from .telemetry import Telemetry

_active: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar(
    "otel_cli_telemetry_active", default=()
)
#: Set by ``otel_cli_telemetry.testing.capture_spans``: where encoded requests go instead.
_capture: contextvars.ContextVar[Callable[[dict[str, Any]], None] | None] = contextvars.ContextVar(
    "otel_cli_telemetry_capture", default=None
)


class CommandHandle:
    """Yielded by ``telemetry.command()``: lets a command report an exit code it returns
    instead of raising (``handle.exit_code = 3``)."""

    def __init__(self) -> None:
        self.exit_code: int | None = None
        self.recording = False
        #: What escaped the command's own code, when a framework turned it into a
        #: different exit (click turns Ctrl-C into exit 1): outcome and error.type come from
        #: it, the exit code from what the process really does.
        self.inner_exception: BaseException | None = None
        #: Allow-listed option names given on the command line (framework integrations).
        self.options: set[str] = set()
        self._span: CommandSpan | None = None

    def set_name(self, name: str) -> None:
        """Rename the command once it is known (frameworks resolve subcommands late)."""
        if self._span is not None:
            self._span.rename(name)

    def discard(self) -> None:
        """Record nothing for this run (used for the ``telemetry`` commands themselves)."""
        if self._span is not None:
            self._span.discard()

    def set_attribute(self, key: str, value: Any) -> None:
        """Add an attribute to the command span (the author's responsibility: no secrets)."""
        if self._span is not None:
            from .attributes import clean_user_attributes

            cleaned, _ = clean_user_attributes({key: value})
            if cleaned:
                self._span.span.set_attributes(cleaned)


class CommandContext:
    """The context manager behind ``telemetry.command()``; reusable, not reentrant."""

    def __init__(
        self, telemetry: Telemetry, name: str, attributes: Mapping[str, Any] | None
    ) -> None:
        self._telemetry = telemetry
        self._name = name
        self._attributes = attributes
        self._span: CommandSpan | None = None
        self._handle = CommandHandle()
        self._token: contextvars.Token[tuple[int, ...]] | None = None

    def __enter__(self) -> CommandHandle:
        self._handle = CommandHandle()
        self._span = None
        try:
            if self._telemetry.consent().enabled:
                active = _active.get()
                root = id(self._telemetry) not in active
                if root:
                    self._telemetry._maybe_show_notice()
                pipeline = self._telemetry._pipeline_for_run()
                self._span = pipeline.start(self._name, root=root, extra=self._attributes)
                self._token = _active.set((*active, id(self._telemetry)))
                self._handle.recording = True
                self._handle._span = self._span
        except Exception:  # noqa: BLE001 - telemetry must never break the command
            self._span = None
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span, self._span = self._span, None
        token, self._token = self._token, None
        if span is None:
            return
        try:
            if token is not None:
                _active.reset(token)
            default = self._handle.exit_code or 0
            outcome = command.classify(exc, default_code=default)
            inner = self._handle.inner_exception
            if inner is not None and outcome.code != 0:
                seen = command.classify(inner)
                if seen.code != 0:
                    outcome = command.Exit(outcome.code, seen.outcome, seen.error_type)
            span.finish(outcome)
        except Exception:  # noqa: BLE001, S110 - never replace the host's exception with ours
            pass
        # Returning None lets the host's exception (SystemExit included) propagate.
