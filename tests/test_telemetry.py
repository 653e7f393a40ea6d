"""Telemetry in process: the command span, what is spooled, and that the host is untouched."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import otlp_read as show
from otel_cli_telemetry._disk import spool


class FakeSpawn:
    """Records exporter launches instead of starting processes (the launcher seam)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.pid = 4242

    def __call__(self, argv: list[str], **kwargs: Any) -> FakeSpawn:
        self.calls.append((argv, kwargs))
        return self


def make(
    home: Path, env: dict[str, str] | None = None, **kwargs: Any
) -> tuple[Telemetry, FakeSpawn]:
    spawn = FakeSpawn()
    telemetry = Telemetry(
        "assembly", version="1.2.3", home=home, env=env or {}, spawn=spawn, **kwargs
    )
    return telemetry, spawn


def spooled_spans(home: Path) -> list[tuple[dict[str, object], dict[str, Any]]]:
    requests = [spool.read(e) for e in spool.entries(home / "spool")]
    return list(show.iter_spans(requests))


def attrs_of(span: dict[str, Any]) -> dict[str, object]:
    return show.attributes(span["attributes"])


def test_success_span_is_spooled_and_exporter_started(home: Path) -> None:
    """One command: one spool file with a semconv CLI span, one exporter launch."""
    telemetry, spawn = make(home)
    with telemetry.command("transcribe"):
        pass
    [(resource, span)] = spooled_spans(home)
    assert span["name"] == "assembly transcribe"
    assert span["kind"] == 1
    attrs = attrs_of(span)
    assert attrs["process.exit.code"] == 0
    assert attrs["cli_telemetry.outcome"] == "success"
    assert isinstance(attrs["process.pid"], int)
    assert "process.executable.name" in attrs
    assert "error.type" not in attrs
    assert span["status"] == {}
    assert resource["service.name"] == "assembly"
    assert resource["service.version"] == "1.2.3"
    assert len(spawn.calls) == 1
    argv, kwargs = spawn.calls[0]
    assert argv[-2:] == [
        "-c",
        "import sys; from otel_cli_telemetry._exporter.child import main; sys.exit(main())",
    ]
    assert argv[1:-2] == (["-P"] if sys.version_info >= (3, 11) else [])
    assert kwargs["start_new_session"] is True
    assert kwargs["env"]["OTEL_CLI_TELEMETRY_EXPORTER_CHILD"] == "1"
    assert kwargs["stdin"] == kwargs["stdout"] == kwargs["stderr"]
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("exc", "code", "outcome", "error_type"),
    [
        (SystemExit(3), 3, "error", "_OTHER"),
        (SystemExit("fatal: secret message"), 1, "error", "_OTHER"),
        (KeyboardInterrupt(), 130, "interrupted", "KeyboardInterrupt"),
        (RuntimeError("secret message"), 1, "internal_error", "RuntimeError"),
    ],
)
def test_failures_propagate_unchanged_and_are_recorded(
    home: Path, exc: BaseException, code: int, outcome: str, error_type: str
) -> None:
    """The host sees its own exception; the span gets exit code, error.type, ERROR status."""
    telemetry, _ = make(home)
    with pytest.raises(type(exc)) as caught, telemetry.command("transcribe"):
        raise exc
    assert caught.value is exc
    [(_, span)] = spooled_spans(home)
    attrs = attrs_of(span)
    assert attrs["process.exit.code"] == code
    assert attrs["cli_telemetry.outcome"] == outcome
    assert attrs["error.type"] == error_type
    assert span["status"]["code"] == 2
    assert "secret" not in json.dumps(span)


def test_track_decorator_and_returned_exit_code(home: Path) -> None:
    """@track names the span; an int return value is the exit code and is returned."""
    telemetry, _ = make(home)

    @telemetry.track()
    def export_all() -> int:
        return 4

    assert export_all() == 4
    [(_, span)] = spooled_spans(home)
    assert span["name"] == "assembly export-all"
    assert attrs_of(span)["process.exit.code"] == 4


def test_child_spans_ship_with_the_command(home: Path) -> None:
    """Spans made with telemetry.tracer inside the command are its children, in one file."""
    telemetry, _ = make(home)
    tracer = telemetry.tracer
    with (
        telemetry.command("transcribe"),
        tracer.start_as_current_span("load model"),
        tracer.start_as_current_span("read file"),
    ):
        pass
    assert len(spool.entries(home / "spool")) == 1
    spans = {span["name"]: span for _, span in spooled_spans(home)}
    root = spans["assembly transcribe"]
    assert spans["load model"]["parentSpanId"] == root["spanId"]
    assert spans["read file"]["parentSpanId"] == spans["load model"]["spanId"]
    assert {s["traceId"] for s in spans.values()} == {root["traceId"]}


def test_spans_outside_a_command_are_not_sent(home: Path) -> None:
    """Spans started outside a command are not spooled."""
    telemetry, _ = make(home)
    with telemetry.command("a"):
        pass
    with telemetry.tracer.start_as_current_span("stray"):
        pass
    assert [s["name"] for _, s in spooled_spans(home)] == ["assembly a"]


def test_traceparent_joins_the_callers_trace(home: Path) -> None:
    """A valid TRACEPARENT makes the command span a child of the caller's span."""
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    telemetry, _ = make(home, {"TRACEPARENT": f"00-{trace_id}-{parent}-01"})
    with telemetry.command("x"):
        pass
    [(_, span)] = spooled_spans(home)
    assert span["traceId"] == trace_id
    assert span["parentSpanId"] == parent


@pytest.mark.parametrize("value", ["garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "\x00"])
def test_invalid_traceparent_is_ignored(home: Path, value: str) -> None:
    """An invalid TRACEPARENT is ignored: the command span has no parent."""
    telemetry, _ = make(home, {"TRACEPARENT": value})
    with telemetry.command("x"):
        pass
    [(_, span)] = spooled_spans(home)
    assert "parentSpanId" not in span


def test_debug_prints_and_sends_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """{PREFIX}_TELEMETRY_DEBUG=1: the OTLP JSON goes to stderr; no spool, no exporter."""
    telemetry, spawn = make(home, {"ASSEMBLY_TELEMETRY_DEBUG": "1"})
    with telemetry.command("transcribe"):
        pass
    err = capsys.readouterr().err
    printed = json.loads(err)
    assert printed["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] == "assembly transcribe"
    assert spawn.calls == []
    assert not (home / "spool").exists()


def test_no_second_exporter_while_one_runs(home: Path) -> None:
    """The launcher starts no child while another one owns the exporter marker."""
    from otel_cli_telemetry._disk import child_marker, state

    telemetry, spawn = make(home)
    home.mkdir(mode=0o700)
    running = child_marker.ChildMarker(state.Paths(home=home, config_dir=home))
    assert running.adopt()
    try:
        with telemetry.command("a"):
            pass
    finally:
        running.give_up()
    assert spawn.calls == []
    assert len(spool.entries(home / "spool")) == 1
    # Once it is gone, the next command starts one.
    with telemetry.command("b"):
        pass
    assert len(spawn.calls) == 1


def test_unwritable_home_never_breaks_the_command(tmp_path: Path) -> None:
    """A file where the home should be: telemetry is off for the run (with the reason),
    the command's own exception and return value pass through, nothing is written."""
    blocker = tmp_path / "home"
    blocker.write_text("not a directory")
    telemetry, spawn = make(blocker)

    @telemetry.track("a")
    def command() -> str:
        return "the command's result"

    assert command() == "the command's result"
    with pytest.raises(KeyError, match="its own"), telemetry.command("b"):
        raise KeyError("its own")
    decision = telemetry.consent()
    assert (decision.enabled, decision.rule) == (False, "unsafe_home")
    assert "not a directory" in decision.detail
    assert spawn.calls == []
    assert blocker.read_text() == "not a directory"


def test_nested_commands_make_one_trace(home: Path) -> None:
    """A tracked function called inside a command is a child span, not a second trace."""
    telemetry, spawn = make(home)

    @telemetry.track("inner")
    def inner() -> None:
        pass

    with telemetry.command("outer"):
        inner()
    assert len(spool.entries(home / "spool")) == 1
    names = sorted(s["name"] for _, s in spooled_spans(home))
    assert names == ["assembly inner", "assembly outer"]
    assert len(spawn.calls) == 1


def test_huge_attribute_is_truncated(home: Path) -> None:
    """A huge attribute value is truncated to 1024 characters."""
    telemetry, _ = make(home)
    with telemetry.command("a", attributes={"app.note": "x" * 100_000}):
        pass
    [(_, span)] = spooled_spans(home)
    assert len(str(attrs_of(span)["app.note"])) == 1024


def test_status_reports_destination_without_secrets(home: Path) -> None:
    """Status names the destination URL but never the header values."""
    telemetry, _ = make(
        home,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=topsecret",
        },
    )
    text = "\n".join(telemetry.status().lines())
    assert "http://127.0.0.1:4318/v1/traces" in text
    assert "topsecret" not in text


def test_constructor_validates() -> None:
    """An empty service name and a non-positive export deadline are refused."""
    with pytest.raises(ValueError, match="service_name"):
        Telemetry("")
    with pytest.raises(ValueError, match="export_deadline"):
        Telemetry("x", export_deadline=0)
