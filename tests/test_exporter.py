"""The exporter: drains the spool over OTLP/HTTP with the specification's retry rules."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)

from otel_cli_telemetry import OTLP, Telemetry
from otel_cli_telemetry._disk import delivery, destination, enqueue, locks, spool, state
from otel_cli_telemetry._exporter import batch
from otel_cli_telemetry._exporter.drain import drain
from otel_cli_telemetry._exporter.sinks._wire import Client
from otel_cli_telemetry._exporter.sinks.otlp import OtlpHttpSink
from otel_cli_telemetry._process import launcher
from tests.collector import OtlpReceiver, ScriptedResponse
from tests.conftest import ROOT, FakeClock


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as server:
        yield server


def paths_for(home: Path) -> state.Paths:
    return state.Paths(home=home, config_dir=home)


def spool_commands(home: Path, names: list[str]) -> None:
    """Spool real command spans through the real pipeline (exporter launch faked)."""
    telemetry = Telemetry("assembly", home=home, env={}, spawn=lambda *a, **k: None)
    for name in names:
        with telemetry.command(name):
            pass


def otlp(url: str, protocol: str = "http/protobuf", **kw: object) -> destination.Destination:
    return destination.Destination(
        kind=destination.OTLP,
        endpoint=url + "/v1/traces",
        protocol=protocol,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
@pytest.mark.parametrize("compression", [None, "gzip"])
def test_drain_delivers_batches_and_deletes(
    home: Path, receiver: OtlpReceiver, protocol: str, compression: str | None
) -> None:
    """Everything spooled arrives in one request and the spool is emptied."""
    spool_commands(home, ["a", "b", "c"])
    report = drain(paths_for(home), otlp(receiver.url, protocol, compression=compression))
    assert report.delivered == 3
    assert report.remaining == 0
    names = sorted(s.name for s in receiver.spans())
    assert names == ["assembly a", "assembly b", "assembly c"]
    [request] = receiver.requests
    assert request.content_type == (
        "application/json" if protocol == "http/json" else "application/x-protobuf"
    )
    assert request.headers.get("content-encoding") == compression
    assert delivery.load(home / "delivery.json").delivered == 3


def test_headers_are_sent(home: Path, receiver: OtlpReceiver) -> None:
    """Configured headers and our User-Agent are sent with the export request."""
    spool_commands(home, ["a"])
    drain(paths_for(home), otlp(receiver.url, headers={"x-api-key": "k1"}))
    assert receiver.requests[0].headers["x-api-key"] == "k1"
    assert receiver.requests[0].headers["user-agent"].startswith("otel-cli-telemetry/")


def test_partial_success_is_accepted_not_retried(home: Path) -> None:
    """A 200 carrying partialSuccess deletes the file and records the rejected count."""
    body = ExportTraceServiceResponse()
    body.partial_success.rejected_spans = 1
    body.partial_success.error_message = "too old"
    response = ScriptedResponse(
        200, {"content-type": "application/x-protobuf"}, body.SerializeToString()
    )
    with OtlpReceiver([response]) as server:
        spool_commands(home, ["a"])
        report = drain(paths_for(home), otlp(server.url))
        assert report.delivered == 1
        assert len(server.requests) == 1
    assert delivery.load(home / "delivery.json").dropped == {"partial_success_rejected_spans": 1}


@pytest.mark.parametrize("status", [400, 401, 404, 413, 408, 500])
def test_non_retryable_status_drops_and_records(home: Path, status: int) -> None:
    """Outside 429, 502, 503 and 504 (the OTLP retry set) nothing is retried, 408 and 500
    included."""
    with OtlpReceiver([ScriptedResponse(status)]) as server:
        spool_commands(home, ["a"])
        report = drain(paths_for(home), otlp(server.url))
        assert len(server.requests) == 1
    assert report.dropped == {f"refused_http_{status}": 1}
    assert spool.entries(home / "spool") == []
    assert delivery.load(home / "delivery.json").dropped == {f"refused_http_{status}": 1}


def test_503_then_429_retry_after_then_200(home: Path) -> None:
    """Retryable answers are retried; no request goes out before Retry-After elapses (on
    the drain's clock, faked: the back-off is slept through the ``sleep`` seam)."""
    scripted = [ScriptedResponse(503), ScriptedResponse(429, {"Retry-After": "2"})]
    fake = FakeClock()
    sent_at: list[float] = []

    class Timed(Client):
        def post(self, *args: Any, **kwargs: Any) -> Any:
            sent_at.append(fake.now)
            return super().post(*args, **kwargs)

    client = Timed()
    with OtlpReceiver(scripted) as server:
        spool_commands(home, ["a", "b"])
        dest = otlp(server.url)
        report = drain(
            paths_for(home),
            dest,
            deadline_s=15,
            sink=OtlpHttpSink(dest, client=client),
            clock=fake.monotonic,
            wall=fake.time,
            sleep=fake.sleep,
        )
        statuses = [r.status for r in server.requests]
    client.close()
    assert statuses == [503, 429, 200]
    assert report.delivered == 2
    assert len(fake.slept) == 2
    assert sent_at[1] - sent_at[0] > 0  # the 503 is backed off too
    assert sent_at[2] - sent_at[1] >= 2.0
    state_after = delivery.load(home / "delivery.json")
    assert state_after.failures == 0
    assert not state_after.in_backoff(fake.time())


def test_connection_refused_keeps_spool_and_persists_backoff(home: Path, dead_url: str) -> None:
    """Nothing is lost; later commands see the back-off and start no exporter."""
    spool_commands(home, ["a"])
    report = drain(paths_for(home), otlp(dead_url), deadline_s=1)
    assert report.delivered == 0
    assert report.backing_off
    assert (report.last_error or "").startswith("transport")
    assert len(spool.entries(home / "spool")) == 1
    saved = delivery.load(home / "delivery.json")
    assert saved.failures >= 1
    assert saved.in_backoff()
    assert launcher.should_start(paths_for(home)) == (False, "backing off")
    # The next drain does not even try while the back-off lasts.
    again = drain(paths_for(home), otlp(dead_url), deadline_s=1)
    assert again.attempts == 0


def test_blackholed_destination_respects_the_deadline(home: Path, blackhole: str) -> None:
    """A collector that accepts and never answers costs at most the deadline."""
    spool_commands(home, ["a"])
    started = time.monotonic()
    report = drain(paths_for(home), otlp(blackhole, timeout_s=30), deadline_s=1.5)
    assert time.monotonic() - started < 4
    assert report.delivered == 0
    assert len(spool.entries(home / "spool")) == 1


def test_corrupt_file_is_quarantined_and_the_rest_delivered(
    home: Path, receiver: OtlpReceiver
) -> None:
    """A corrupt spool file is moved to quarantine and counted while the valid trace beside it is
    delivered."""
    spool_commands(home, ["a"])
    bad = f"{time.time_ns():020d}-1-bad.json"
    (home / "spool" / bad).write_bytes(b"\x00garbage")
    report = drain(paths_for(home), otlp(receiver.url))
    assert report.delivered == 1
    assert report.dropped == {"corrupt": 1}
    assert (home / "quarantine" / bad).exists()


def test_locked_out_when_another_exporter_drains(home: Path, receiver: OtlpReceiver) -> None:
    """While another process holds the export lock a drain sends nothing and reports that it was
    locked out."""
    spool_commands(home, ["a"])
    holder = locks.FileLock(home / "export.lock")
    assert holder.acquire()
    try:
        report = drain(paths_for(home), otlp(receiver.url), lock_wait_s=0.1)
    finally:
        holder.release()
    assert report.locked_out
    assert receiver.requests == []


def test_file_sink_is_the_default(home: Path) -> None:
    """With no endpoint, traces land as OTLP JSON lines in traces.jsonl (0600)."""
    spool_commands(home, ["a", "b"])
    report = drain(paths_for(home), destination.Destination())
    assert report.delivered == 2
    lines = (home / "traces.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["resourceSpans"]
    assert (home / "traces.jsonl").stat().st_mode & 0o777 == 0o600


def test_child_exits_by_its_hard_deadline(home: Path, blackhole: str) -> None:
    """The real child process, pointed at a blackhole, exits by its deadline."""
    telemetry = Telemetry(
        "assembly", home=home, env={}, destinations=[OTLP(blackhole)], spawn=lambda *a, **k: None
    )
    with telemetry.command("a"):
        pass
    # The queue's record, with a long request timeout and a short deadline (same destination).
    destination.save(paths_for(home), otlp(blackhole, timeout_s=60, deadline_s=1.0))
    env = launcher.child_env({"PATH": "/usr/bin:/bin"}, home)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry._exporter.child"],
        env=env,
        cwd=home,
        timeout=30,
        capture_output=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed
    assert proc.stdout == b""
    assert proc.stderr == b""
    assert len(spool.entries(home / "spool")) == 1


def test_child_env_is_reduced(tmp_path: Path) -> None:
    """The child gets what it needs to run and send, plus the kill switch; no secrets."""
    env = launcher.child_env(
        {
            "PATH": "/bin",
            "AWS_SECRET_ACCESS_KEY": "x",
            "OTEL_EXPORTER_OTLP_HEADERS": "a=b",
            "HTTPS_PROXY": "http://proxy:3128",
        },
        tmp_path,
    )
    assert env["OTEL_CLI_TELEMETRY_EXPORTER_CHILD"] == "1"
    assert env["HTTPS_PROXY"] == "http://proxy:3128"
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in env
    assert env["PYTHONPATH"].split(":")[0] == str(ROOT)


def test_losses_are_reported_on_the_next_delivery(home: Path, receiver: OtlpReceiver) -> None:
    """Traces dropped by the caps are counted, then announced on the next delivered span."""
    spool_commands(home, ["old1", "old2", "old3"])
    dropped = enqueue.enforce_caps(home / "spool", max_files=1)
    assert dropped == {"count": 2}
    delivery.record_drops(home / "delivery.json", home / "state.lock", {"cap_count": 2})
    report = drain(paths_for(home), otlp(receiver.url))
    assert report.delivered == 1
    [span] = receiver.spans()
    assert span.name == "assembly old3"
    assert span.attributes["cli_telemetry.dropped_traces"] == 2
    assert span.attributes["cli_telemetry.dropped_reasons"] == ["cap_count=2"]
    saved = delivery.load(home / "delivery.json")
    assert saved.unreported == {}
    assert saved.dropped == {"cap_count": 2}
    # Reported once: the next delivery carries no loss attributes.
    spool_commands(home, ["next"])
    drain(paths_for(home), otlp(receiver.url))
    assert "cli_telemetry.dropped_traces" not in receiver.spans()[-1].attributes


def test_retries_within_a_run_go_through_the_clock_and_sleep_hooks(home: Path) -> None:
    """A batch is tried at most ``MAX_ATTEMPTS_PER_RUN`` times in one run, waiting the
    server's Retry-After through the run's ``sleep`` (no real wait); the back-off it leaves
    is on the ``wall`` clock, and the trace stays in the spool."""
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    answers = [ScriptedResponse(503, {"Retry-After": "7"})] * 5
    with OtlpReceiver(answers) as server:
        spool_commands(home, ["a"])
        report = drain(
            paths_for(home),
            otlp(server.url),
            deadline_s=60,
            clock=lambda: now[0],
            wall=lambda: 5000.0,
            sleep=sleep,
        )
        assert len(server.requests) == batch.MAX_ATTEMPTS_PER_RUN
    assert slept == [7.0] * (batch.MAX_ATTEMPTS_PER_RUN - 1)
    assert (report.delivered, report.attempts, report.backing_off) == (0, 4, True)
    assert report.last_error == "http_503"
    saved = delivery.load(home / "delivery.json")
    assert (saved.failures, saved.next_attempt_at) == (4, 5007.0)
    assert len(spool.entries(home / "spool")) == 1
