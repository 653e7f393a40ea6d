"""``telemetry.tracer`` when telemetry is off: every call a command makes is accepted, the
decorated function runs as usual, and nothing is recorded or spooled."""

from __future__ import annotations

from pathlib import Path

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.testing import capture_spans


def test_the_off_tracer_accepts_every_span_call_and_records_nothing(home: Path) -> None:
    """With DO_NOT_TRACK, each span method a command may call on ``telemetry.tracer``'s
    spans works, spans are not recording, their context is OpenTelemetry's invalid one, and
    nothing is captured or written to the spool."""
    from opentelemetry.trace import INVALID_SPAN_CONTEXT

    telemetry = Telemetry("assembly", home=home, env={"DO_NOT_TRACK": "1"})
    with capture_spans() as captured, telemetry.command("work"):
        tracer = telemetry.tracer
        with tracer.start_as_current_span("step") as span:
            assert span.is_recording() is False
            span.set_attribute("k", "v")
            span.set_attributes({"a": 1})
            span.add_event("e", {"x": 1})
            span.add_link(INVALID_SPAN_CONTEXT)
            span.set_status("ok", "fine")
            span.record_exception(ValueError("boom"))
            span.update_name("renamed")
            assert span.get_span_context() is INVALID_SPAN_CONTEXT
        with tracer.start_span("manual") as manual:
            manual.end()
    assert captured.commands == []
    assert not (home / "spool").exists() or list((home / "spool").iterdir()) == []


def test_the_off_tracer_decorates_functions_and_defers_rare_calls(home: Path) -> None:
    """``start_as_current_span`` used as a decorator runs the function with its arguments
    and keeps its name and result; a rarer tracer method falls back to OpenTelemetry's
    no-op tracer."""
    telemetry = Telemetry("assembly", home=home, env={"DO_NOT_TRACK": "1"})
    tracer = telemetry.tracer

    @tracer.start_as_current_span("decorated")
    def add(a: int, b: int = 0) -> int:
        """Adds."""
        return a + b

    assert add(2, b=3) == 5
    assert (add.__name__, add.__doc__) == ("add", "Adds.")
    assert callable(tracer.start_as_current_span)
    fallback = tracer.__getattr__("start_span")  # what an unknown name would reach
    assert fallback("x").is_recording() is False
