"""A stand-in tracer for when telemetry is off, so that code using ``telemetry.tracer``
does not import OpenTelemetry on the disabled path.

It answers the calls commands make (``start_as_current_span``, as a context manager or a
decorator, ``start_span`` and the span methods) and records nothing. Anything rarer falls
back to OpenTelemetry's own no-op objects, importing the API only then.

Like the rest of the off path it imports nothing at all: no ``contextlib``, no ``typing``,
no ``from __future__`` (annotations that need them are strings).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])


class NoOpSpan:
    """Accepts every span call and keeps nothing."""

    def is_recording(self) -> bool:
        return False

    def set_attribute(self, key: str, value: "Any") -> None:
        return None

    def set_attributes(self, attributes: "Any") -> None:
        return None

    def add_event(self, name: str, attributes: "Any" = None, timestamp: "Any" = None) -> None:
        return None

    def add_link(self, context: "Any", attributes: "Any" = None) -> None:
        return None

    def set_status(self, status: "Any", description: str | None = None) -> None:
        return None

    def record_exception(self, exception: BaseException, *args: "Any", **kwargs: "Any") -> None:
        return None

    def update_name(self, name: str) -> None:
        return None

    def end(self, end_time: int | None = None) -> None:
        return None

    def get_span_context(self) -> "Any":
        from opentelemetry.trace import INVALID_SPAN_CONTEXT

        return INVALID_SPAN_CONTEXT

    def __enter__(self) -> "NoOpSpan":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class CurrentSpan:
    """What ``start_as_current_span`` returns: a context manager yielding a NoOpSpan, and a
    decorator (as OpenTelemetry's is) running the function inside one."""

    def __enter__(self) -> NoOpSpan:
        return NoOpSpan()

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, func: "F") -> "F":
        from otel_cli_telemetry._process.run import update_wrapper

        def wrapper(*args: "Any", **kwargs: "Any") -> "Any":
            with CurrentSpan():
                return func(*args, **kwargs)

        update_wrapper(wrapper, func)
        return wrapper  # type: ignore[return-value]


class NoOpTracer:
    """Hands out NoOpSpans."""

    def start_span(self, name: str, *args: "Any", **kwargs: "Any") -> NoOpSpan:
        return NoOpSpan()

    def start_as_current_span(self, name: str, *args: "Any", **kwargs: "Any") -> CurrentSpan:
        return CurrentSpan()

    def __getattr__(self, name: str) -> "Any":
        from opentelemetry.trace import NoOpTracer as OtelNoOpTracer

        return getattr(OtelNoOpTracer(), name)
