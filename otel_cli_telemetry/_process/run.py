"""One command run: the context manager behind ``telemetry.command()`` and the handle it
yields. Kept apart from ``Telemetry`` so each stays one job.

On the disabled path this module imports nothing the interpreter did not load at start-up:
no ``from __future__`` (annotations that need it are strings), and the context variables
(``contextvars`` is not loaded at start-up) are made the first time a command records.
"""

#: ``attributes.STARTUP_MS``, spelled here: ``attributes`` is not loaded on the off path.
STARTUP_MS = "cli_telemetry.startup_ms"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from contextvars import ContextVar, Token
    from types import TracebackType
    from typing import Any, TypeAlias, TypeVar

    from otel_cli_telemetry._process import command
    from otel_cli_telemetry._process.host import Host
    from otel_cli_telemetry._process.recorder import CommandSpan

    Capture: TypeAlias = Callable[[dict[str, Any]], None]
    F = TypeVar("F", bound=Callable[..., Any])

    # Made by ``_context_vars``; declared here for type checkers and ``from .run import``.
    _active: ContextVar[tuple[int, ...]]
    #: Set by ``otel_cli_telemetry.testing.capture_spans``: where encoded requests go instead.
    _capture: ContextVar[Capture | None]


def _context_vars() -> "tuple[ContextVar[tuple[int, ...]], ContextVar[Capture | None]]":
    """The ids of the Telemetry objects with a command open here, and the test kit's capture
    target, made on first use (``setdefault``: two threads racing keep the same pair)."""
    namespace = globals()
    if "_capture" not in namespace:
        try:  # ``contextvars`` only re-exports the C module: one module less to load
            from _contextvars import ContextVar
        except ImportError:  # pragma: no cover - another Python
            from contextvars import ContextVar

        namespace.setdefault("_active", ContextVar("otel_cli_telemetry_active", default=()))
        namespace.setdefault("_capture", ContextVar("otel_cli_telemetry_capture", default=None))
    return namespace["_active"], namespace["_capture"]


def __getattr__(name: str) -> object:
    # ``run._active`` and ``from .run import _capture`` (the test kit) before first use.
    if name in ("_active", "_capture"):
        active, capture = _context_vars()
        return active if name == "_active" else capture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def capture_target() -> "Capture | None":
    """Where the test kit wants encoded requests, or None when it is not capturing."""
    return _context_vars()[1].get()


def in_command() -> bool:
    """True while any ``telemetry.command()`` is recording in this context."""
    return bool(_context_vars()[0].get())


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
        #: Set by the argparse integration when the parser itself rejected the command line.
        self.usage_error = False
        self._span: CommandSpan | None = None

    def set_name(self, name: str) -> None:
        """Rename the command once it is known (frameworks resolve subcommands late)."""
        if self._span is not None:
            self._span.rename(name)

    def discard(self) -> None:
        """Record nothing for this run (used for the ``telemetry`` commands themselves)."""
        if self._span is not None:
            self._span.discard()

    def set_attribute(self, key: str, value: "Any") -> None:
        """Add an attribute to the command span (the author's responsibility: no secrets)."""
        if self._span is not None:
            from otel_cli_telemetry._process.attributes import clean_user_attributes

            cleaned, _ = clean_user_attributes({key: value})
            if cleaned:
                self._span.set_attributes(cleaned)


class CommandContext:
    """The context manager behind ``telemetry.command()``; reusable, not reentrant."""

    def __init__(
        self, telemetry: "Host", name: str, attributes: "Mapping[str, Any] | None"
    ) -> None:
        self._telemetry = telemetry
        self._name = name
        self._attributes = attributes
        self._span: CommandSpan | None = None
        self._handle = CommandHandle()
        self._token: Token[tuple[int, ...]] | None = None

    def __enter__(self) -> CommandHandle:
        self._handle = CommandHandle()
        self._span = None
        try:
            if self._telemetry.consent().enabled:
                active_var = _context_vars()[0]
                active = active_var.get()
                root = id(self._telemetry) not in active
                if root:
                    self._telemetry._maybe_show_notice()
                recorder = self._telemetry._recorder_for_run()
                self._span = recorder.start(self._name, root=root, extra=self._attributes)
                if root:
                    started = first_command_ms()
                    if started is not None:
                        self._span.set_attributes({STARTUP_MS: started})
                self._token = active_var.set((*active, id(self._telemetry)))
                self._handle.recording = True
                self._handle._span = self._span
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the command
            self._span = None
            _count_internal_error(self._telemetry, exc)
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: "TracebackType | None",
    ) -> None:
        span, self._span = self._span, None
        token, self._token = self._token, None
        if span is None:
            return
        try:
            if token is not None:
                _context_vars()[0].reset(token)
            if _succeeded(exc, self._handle):
                span.finish(None)  # a success, known without loading ``command``
            else:
                span.finish(*_classified(self._telemetry, self._handle, exc))
        except Exception as exc:  # noqa: BLE001 - never replace the host's exception with ours
            _count_internal_error(self._telemetry, exc)
        # Returning None lets the host's exception (SystemExit included) propagate.


def _succeeded(exc: "BaseException | None", handle: CommandHandle) -> bool:
    """What ``command.classify`` calls a success, in its two common shapes: nothing escaped
    and no code was chosen, or ``SystemExit(0)``/``SystemExit(None)`` (click, typer)."""
    if exc is None:
        return not handle.exit_code
    code = getattr(exc, "code", 1) if type(exc) is SystemExit else 1
    return code is None or (isinstance(code, int) and code == 0)


def _classified(
    telemetry: "Host", handle: CommandHandle, exc: "BaseException | None"
) -> "tuple[command.ExitStatus, Mapping[str, Any] | None]":
    """How a command that failed, or chose its exit code, ended (``command.classify``), and
    where it crashed (an internal error, when the author wants the location)."""
    from otel_cli_telemetry._process import command

    codes = telemetry.exit_codes
    outcome = command.classify(exc, default_code=handle.exit_code or 0, exit_codes=codes)
    inner = handle.inner_exception
    if inner is not None and outcome.code != 0:
        seen = command.classify(inner, exit_codes=codes)
        if seen.code != 0:
            outcome = command.ExitStatus(outcome.code, seen.outcome, seen.error_type)
    elif handle.usage_error and outcome.code != 0:
        # argparse rejected the command line: a usage error, whatever its code means
        outcome = command.ExitStatus(outcome.code, command.USAGE_ERROR, outcome.error_type)
    if outcome.outcome == command.INTERNAL_ERROR and telemetry.crash_location:
        from otel_cli_telemetry._process import crash

        return outcome, crash.attributes(inner or exc, telemetry.app_package)
    return outcome, None


#: Whether this process's first command was measured (later ones did not wait for start-up).
_startup_measured = False


def startup_ms() -> "float | None":
    """Milliseconds from the process's start to now, where the platform says so cheaply.

    Linux only: ``/proc/self/stat`` gives the start in clock ticks since boot (field 22,
    after ``(comm)``, which may hold spaces and parentheses), ``CLOCK_BOOTTIME`` the time
    since boot now; both count suspend and follow a time namespace. The resolution is one
    tick (``SC_CLK_TCK``, 10 ms on most systems): the start is rounded down, so the figure
    may be up to a tick high. Elsewhere None. Here, not in a module of its own: an import
    costs a command more than the measurement (about 400k instructions against 50k).
    """
    import os
    import sys
    import time

    platform: str = sys.platform  # read at run time (tests), not narrowed by type checkers
    if not platform.startswith("linux"):
        return None
    try:
        fd = os.open("/proc/self/stat", os.O_RDONLY)
        try:
            data = os.read(fd, 4096)
        finally:
            os.close(fd)
        # Looked up by name: none of the three exists on Windows, nor CLOCK_BOOTTIME on macOS.
        now: float = getattr(time, "clock_gettime")(getattr(time, "CLOCK_BOOTTIME"))  # noqa: B009
        ticks = int(data[data.rindex(b")") + 2 :].split()[19])
        hertz: int = getattr(os, "sysconf")("SC_CLK_TCK")  # noqa: B009
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    elapsed = now - ticks / hertz if hertz > 0 else -1.0
    return round(elapsed * 1000.0, 1) if elapsed >= 0 else None


def first_command_ms() -> "float | None":
    """``startup_ms()`` for the process's first recorded command; None afterwards."""
    global _startup_measured
    if _startup_measured:
        return None
    _startup_measured = True
    return startup_ms()


def _count_internal_error(telemetry: "Host", exc: Exception) -> None:
    """A trace lost to a bug of ours: counted in ``delivery.json`` (``status`` shows it,
    the next delivered span reports it) as ``internal_<ExceptionClass>``, never raised."""
    decision = telemetry._last_decision
    if decision is None or not decision.enabled:
        return  # consent is unknown or no: nothing may be written
    try:
        from otel_cli_telemetry._disk import delivery, state

        paths = telemetry._state_paths
        if state.check_dir(paths.home):
            reason = f"internal_{type(exc).__name__}"
            delivery.record_drops(paths.delivery_file, paths.state_lock, {reason: 1})
    except Exception:  # noqa: BLE001, S110 - the count is best effort; the command goes on
        pass


def track(telemetry: "Host", name: "str | None") -> "Callable[[F], F]":
    """``telemetry.track(name)``: the decorator that runs the function as one command."""

    def decorate(func: "F") -> "F":
        command_name = name or func.__name__.replace("_", "-")

        def wrapper(*args: "Any", **kwargs: "Any") -> "Any":
            with telemetry.command(command_name) as handle:
                result = func(*args, **kwargs)
                if isinstance(result, int) and not isinstance(result, bool):
                    handle.exit_code = result
                return result

        update_wrapper(wrapper, func)
        return wrapper  # type: ignore[return-value]

    return decorate


#: What ``functools.wraps`` copies (``__type_params__`` exists from 3.12).
WRAPPER_ASSIGNMENTS = (
    "__module__", "__name__", "__qualname__", "__doc__", "__annotations__", "__type_params__",
)  # fmt: skip


def update_wrapper(wrapper: "Callable[..., Any]", wrapped: "Callable[..., Any]") -> None:
    """``functools.update_wrapper`` by hand: name, doc, annotations, ``__dict__`` and
    ``__wrapped__`` (for ``inspect.signature``), without importing ``functools``."""
    for attr in WRAPPER_ASSIGNMENTS:
        try:
            value = getattr(wrapped, attr)
        except AttributeError:
            continue
        setattr(wrapper, attr, value)
    wrapper.__dict__.update(getattr(wrapped, "__dict__", {}))
    wrapper.__wrapped__ = wrapped  # type: ignore[attr-defined]
