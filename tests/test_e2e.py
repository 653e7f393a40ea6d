"""End to end: a real CLI process, its real detached exporter, a real collector (rotel).

CLI ──OTLP/HTTP──▶ rotel (loopback) ──OTLP/HTTP──▶ OtlpReceiver (decodes with opentelemetry-proto)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from otel_cli_telemetry._disk import delivery, spool
from tests.collector import OtlpReceiver, ReceivedSpan, Rotel, rotel_binary_or_skip
from tests.conftest import (
    cli_env,
    run_example,
    stop_exporters,
    wait_for_exporters,
    wait_for_failure,
)

pytestmark = pytest.mark.collector


def spans_of_trace(receiver: OtlpReceiver, name: str, timeout: float = 20.0) -> list[ReceivedSpan]:
    """Wait for the command span called ``name`` and return every span of its trace."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        roots = [s for s in receiver.spans() if s.name == name]
        if roots:
            trace_id = roots[-1].trace_id
            return [s for s in receiver.spans() if s.trace_id == trace_id]
        time.sleep(0.05)
    raise AssertionError(f"no span {name!r}; got {[s.name for s in receiver.spans()]}")


CASES = [
    # args, span name, exit code recorded, outcome, error.type
    (
        ["transcribe", "secret-meeting.wav", "--language", "fr"],
        "assembly transcribe",
        0,
        "success",
        None,
    ),
    (["fail", "--code", "3"], "assembly fail", 3, "error", "_OTHER"),
    (["crash", "--secret", "hunter2"], "assembly crash", 1, "internal_error", "RuntimeError"),
    (["interrupt"], "assembly interrupt", 130, "interrupted", "KeyboardInterrupt"),
    (["exit-message"], "assembly exit-message", 1, "error", "_OTHER"),
]


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
@pytest.mark.parametrize(("args", "name", "code", "outcome", "error_type"), CASES)
def test_command_span_arrives_through_the_collector(
    pipeline: tuple[Rotel, OtlpReceiver],
    home: Path,
    reap_exporters: Path,
    protocol: str,
    args: list[str],
    name: str,
    code: int,
    outcome: str,
    error_type: str | None,
) -> None:
    """The span names the command, records how it ended, and the host's result is untouched."""
    collector, receiver = pipeline
    receiver.clear()
    env = cli_env(
        home,
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.http_endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
    )
    result = run_example("typer_cli.py", *args, env=env)
    baseline = run_example("typer_cli.py", *args, env=cli_env(home, DO_NOT_TRACK="1"))
    assert (result.returncode, result.stdout, result.stderr) == (
        baseline.returncode,
        baseline.stdout,
        baseline.stderr,
    )

    # The CLI has exited: whatever arrives now was sent by its detached exporter child.
    spans = spans_of_trace(receiver, name)
    [root] = [s for s in spans if s.name == name]
    assert root.kind == 1  # SPAN_KIND_INTERNAL
    assert root.parent_span_id == ""
    assert root.attributes["process.exit.code"] == code
    assert root.attributes["cli_telemetry.outcome"] == outcome
    assert root.attributes["process.executable.name"] == "typer_cli.py"
    assert isinstance(root.attributes["process.pid"], int)
    assert root.attributes.get("error.type") == error_type
    assert root.status_code == (0 if code == 0 else 2)
    assert root.scope_name == "otel_cli_telemetry"
    resource = root.resource_attributes
    assert resource["service.name"] == "assembly"
    assert resource["service.version"] == "1.2.3"
    assert resource["host.arch"] in {"amd64", "arm64", "x86", "arm32", "ppc64", "s390x"}
    assert resource["os.type"] == "linux"
    assert len(str(resource["app.installation.id"])) == 36
    if name == "assembly transcribe":
        [child] = [s for s in spans if s.name == "load model"]
        assert child.parent_span_id == root.span_id

    wait_for_exporters(home)
    assert spool.entries(home / "spool") == []
    # Nothing secret left the process: not the argument, not the exception message.
    sent = b"".join((r.payload or r.body) for r in receiver.requests)
    for secret in (b"secret-meeting", b"hunter2", b"boom with"):
        assert secret not in sent


@pytest.mark.parametrize("where", ["dead", "blackholed"])
def test_unreachable_destination_changes_nothing_for_the_host(
    home: Path, reap_exporters: Path, dead_url: str, blackhole: str, where: str
) -> None:
    """Dead or blackholed collector: same exit code and output, empty stderr, span kept."""
    endpoint = dead_url if where == "dead" else blackhole
    # a 1 s request timeout: the blackholed child records its first failure after 1 s,
    # not at its 10 s deadline (the host's timing is what is measured here)
    env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_TIMEOUT="1000")
    started = time.monotonic()
    result = run_example("typer_cli.py", "transcribe", "a.wav", env=env)
    elapsed = time.monotonic() - started
    baseline = run_example(
        "typer_cli.py", "transcribe", "a.wav", env=cli_env(home, DO_NOT_TRACK="1")
    )
    assert result.returncode == baseline.returncode == 0
    assert result.stdout == baseline.stdout
    assert result.stderr == ""
    # Loose on purpose (shared machines): the standard SDK takes ~10 s here.
    assert elapsed < 6, elapsed
    # The span was not lost: the child's failed attempt is persisted with a back-off
    # (ended there, not waited out to its deadline) and the span waits in the spool.
    wait_for_failure(home)
    stop_exporters(home)
    assert len(spool.entries(home / "spool")) == 1
    assert delivery.load(home / "delivery.json").failures >= 1


def test_spool_drains_once_the_collector_is_back(
    pipeline: tuple[Rotel, OtlpReceiver], home: Path, reap_exporters: Path, dead_url: str
) -> None:
    """Spans kept while the collector was down are delivered by a later flush."""
    _, receiver = pipeline
    receiver.clear()
    run_example(
        "typer_cli.py",
        "fail",
        "--code",
        "5",
        env=cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=dead_url),
    )
    wait_for_failure(home)  # the child found the collector down; its retries are not waited out
    stop_exporters(home)
    assert len(spool.entries(home / "spool")) == 1
    # The collector comes back where the trace was recorded to go (a trace is only ever sent
    # to the destination it was recorded for).
    port = int(dead_url.rsplit(":", 1)[1])
    with Rotel(receiver.url, binary=rotel_binary_or_skip(), http_port=port):
        env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=dead_url)
        flushed = run_example("typer_cli.py", "telemetry", "flush", env=env)
        assert flushed.returncode == 0, flushed.stdout + flushed.stderr
        assert "delivered 1" in flushed.stdout
        [span] = spans_of_trace(receiver, "assembly fail")
    assert span.attributes["process.exit.code"] == 5


def test_click_example_usage_error(
    pipeline: tuple[Rotel, OtlpReceiver], home: Path, reap_exporters: Path
) -> None:
    """A click UsageError is recorded as exit code 2, usage_error, with its class name."""
    collector, receiver = pipeline
    receiver.clear()
    env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=collector.http_endpoint)
    result = run_example("click_cli.py", "remove", env=env)
    assert result.returncode == 2
    [span] = spans_of_trace(receiver, "notes remove")
    assert span.attributes["process.exit.code"] == 2
    assert span.attributes["cli_telemetry.outcome"] == "usage_error"
    assert span.attributes["error.type"] == "click.exceptions.UsageError"
