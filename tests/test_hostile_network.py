"""A collector that lies, floods or trickles, odd settings and a moving clock: every case
bounded, recorded, backed off, and never able to stop delivery for good (issue 22)."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import delivery, spool, state
from otel_cli_telemetry._exporter.drain import drain
from otel_cli_telemetry._exporter.sinks import INT64_MAX
from otel_cli_telemetry._exporter.sinks._wire import BODY_CAP, Client, proxy_for
from otel_cli_telemetry._exporter.sinks.otlp import OtlpHttpSink, rejected_spans
from otel_cli_telemetry._process import attributes, launcher
from tests.collector import Behaviour, OtlpReceiver, RawServer, ScriptedResponse
from tests.conftest import ROOT, cli_env, run_example, wait_for_exporters
from tests.test_exporter import otlp, paths_for, spool_commands


@pytest.fixture
def receiver_url() -> Iterator[str]:
    with OtlpReceiver() as server:
        yield server.url


class SteppingClock:
    """A monotonic clock that moves one second each time it is read: a deadline passes
    after a few reads, whatever the real pace."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def post_once(url: str, env: dict[str, str] | None = None) -> Any:
    """One POST on a client of its own, closed after."""
    client = Client(env=env)
    try:
        return client.post(url, b"x", {}, 10)
    finally:
        client.close()


def _sink(url: str, *, client: Client | None = None, **kw: Any) -> OtlpHttpSink:
    return OtlpHttpSink(otlp(url, **kw), client=client)


# --- 1. counts saturate --------------------------------------------------------------


def _partial(rejected: int) -> ScriptedResponse:
    body = ExportTraceServiceResponse()
    body.partial_success.rejected_spans = rejected
    return ScriptedResponse(
        200, {"content-type": "application/x-protobuf"}, body.SerializeToString()
    )


def test_int64_max_partial_success_then_400_never_makes_a_span_unencodable(home: Path) -> None:
    """200 with rejected_spans=INT64_MAX, then 400, then 200: the loss totals saturate, the
    next span carries INT64_MAX rejected spans and the one refused trace, and is delivered,
    nothing quarantined."""
    with OtlpReceiver([_partial(INT64_MAX), ScriptedResponse(400)]) as server:
        for name in ("a", "b", "c"):
            spool_commands(home, [name])
            drain(paths_for(home), otlp(server.url))
        (span,) = server.spans()
    kept = delivery.load(home / "delivery.json")
    assert span.attributes[attributes.DROPPED_SPANS] == INT64_MAX
    assert span.attributes[attributes.DROPPED_TRACES] == 1
    assert "unencodable" not in kept.dropped
    assert all(0 <= v <= INT64_MAX for v in [*kept.dropped.values(), *kept.unreported.values()])
    assert spool.entries(home / "spool") == []
    assert kept.delivered == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"partialSuccess":{"rejectedSpans":"9223372036854775807"}}', INT64_MAX),
        (b'{"partialSuccess":{"rejectedSpans":"99999999999999999999999"}}', INT64_MAX),
        (b'{"partialSuccess":{"rejectedSpans":3}}', 3),
        (b'{"partialSuccess":{"rejectedSpans":"-5"}}', 0),
        (b'{"partialSuccess":{"rejectedSpans":1e30}}', 0),
        (b'{"partialSuccess":[1]}', 0),
        (b"[]", 0),
    ],
)
def test_json_partial_success_is_validated_and_saturated(body: bytes, expected: int) -> None:
    """An OTLP/JSON partial success count is read as 0..INT64_MAX whatever its shape."""
    assert rejected_spans(body, "http/json") == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    partial=json_values,
    raw=st.binary(max_size=64),
    protocol=st.sampled_from(["http/json", "http/protobuf"]),
)
def test_any_response_shape_reads_as_a_bounded_count(
    partial: object, raw: bytes, protocol: str
) -> None:
    """Whatever a success body holds, the rejected count is an int from 0 to INT64_MAX."""
    for body in (json.dumps({"partialSuccess": partial}).encode(), raw):
        count = rejected_spans(body, protocol)
        assert isinstance(count, int)
        assert 0 <= count <= INT64_MAX


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(
        st.sampled_from(
            [
                "failures",
                "next_attempt_at",
                "backoff_written_at",
                "dropped",
                "unreported",
                "delivered",
                "attempts",
                "exporter_runs",
                "takeovers",
            ]
        ),
        json_values
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.dictionaries(st.text(max_size=8), st.integers(min_value=-(2**70), max_value=2**70)),
    ),
    now=st.floats(min_value=0, max_value=4e9),
)
def test_any_delivery_state_on_disk_reads_bounded(data: dict[str, Any], now: float) -> None:
    """Every count read from delivery.json is 0..INT64_MAX, and no back-off read from it
    lasts more than the cap from now, whatever the file holds."""
    loaded = delivery.DeliveryState.from_json(data)
    counts = [loaded.delivered, loaded.attempts, loaded.exporter_runs, loaded.takeovers]
    counts += [*loaded.dropped.values(), *loaded.unreported.values(), loaded.failures]
    assert all(isinstance(c, int) and 0 <= c <= INT64_MAX for c in counts)
    assert loaded.backoff_until(now) <= now + delivery.MAX_RETRY_AFTER_S
    loaded.add_drops({"x": INT64_MAX})
    loaded.add_drops({"x": INT64_MAX})
    assert loaded.dropped["x"] == INT64_MAX
    json.dumps(loaded.to_json(), allow_nan=False)


# --- 2. response bodies are capped, decompressed size included ----------------------


def _answer(status: bytes, headers: list[bytes], body: bytes) -> Behaviour:
    def behave(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 " + status + b"\r\n" + b"".join(h + b"\r\n" for h in headers))
        conn.sendall(b"\r\n" + body)

    return behave


def test_a_gzip_bomb_is_read_up_to_the_cap(raw: Callable[[Behaviour], RawServer]) -> None:
    """A 200 whose gzip body unpacks to 64 MiB is read up to BODY_CAP, then let go."""
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    headers = [b"Content-Encoding: gzip", b"Content-Length: " + str(len(bomb)).encode()]
    server = raw(_answer(b"200 OK", headers, bomb))
    response = post_once(server.url + "/v1/traces")
    assert response.status == 200
    assert response.truncated
    assert len(response.body) <= BODY_CAP


def test_a_huge_body_is_never_read(home: Path, raw: Callable[[Behaviour], RawServer]) -> None:
    """A 200 announcing 6 GB (and a close-delimited flood) is accepted without reading
    more than the cap: the spool is emptied, the delivery counted."""

    def flood(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6000000000\r\n\r\n")
        chunk = b"\0" * 65536
        for _ in range(200):  # 13 MB at most: the client leaves long before
            conn.sendall(chunk)

    server = raw(flood)
    spool_commands(home, ["a"])
    report = drain(paths_for(home), otlp(server.url))
    assert report.delivered == 1
    streamed = raw(_answer(b"200 OK", [b"Connection: close"], b"\0" * (4 * BODY_CAP)))
    response = post_once(streamed.url + "/v1/traces")
    assert response.truncated
    assert len(response.body) <= BODY_CAP


# --- 3. one deadline per request covers a slow body ---------------------------------


def _trickle(conn: socket.socket, _head: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(50):
        conn.sendall(b"x")
        time.sleep(0.01)


def test_a_trickled_body_times_out_is_recorded_and_backs_off(
    home: Path, raw: Callable[[Behaviour], RawServer]
) -> None:
    """A body trickled a byte at a time ends at the request's deadline (a stepping clock
    makes it pass after a few reads): recorded as a timeout, with a back-off."""
    server = raw(_trickle)
    spool_commands(home, ["a"])
    sink = _sink(server.url, client=Client(clock=SteppingClock()))
    report = drain(paths_for(home), sink.destination, sink=sink, deadline_s=2)
    kept = delivery.load(home / "delivery.json")
    assert report.last_error == "timeout"
    assert report.backing_off
    assert (kept.last_error, kept.failures) == ("timeout", 1)
    assert kept.in_backoff()
    assert len(spool.entries(home / "spool")) == 1
    assert launcher.should_start(paths_for(home)) == (False, launcher.BACKING_OFF)


# --- redirects and Retry-After -------------------------------------------------------


def test_a_redirect_is_not_followed(home: Path) -> None:
    """A 301 to another receiver sends nothing there; the batch is refused and counted."""
    with OtlpReceiver() as target:
        location = {"Location": target.traces_url}
        with OtlpReceiver([ScriptedResponse(301, location)]) as server:
            spool_commands(home, ["a"])
            report = drain(paths_for(home), otlp(server.url))
        assert target.requests == []
    assert report.dropped == {"refused_http_301": 1}


def test_503_with_retry_after_persists_that_wait(home: Path) -> None:
    """A 503 asking for 120 s keeps the trace and holds every exporter back that long."""
    wall = 1_000_000.0
    with OtlpReceiver([ScriptedResponse(503, {"Retry-After": "120"})]) as server:
        spool_commands(home, ["a"])
        report = drain(paths_for(home), otlp(server.url), deadline_s=1, wall=lambda: wall)
    kept = delivery.load(home / "delivery.json")
    assert report.backing_off
    assert report.last_error == "http_503"
    assert kept.backoff_until(wall) == wall + 120
    assert kept.in_backoff(wall + 119)
    assert not kept.in_backoff(wall + 121)


# --- 4. legal settings never crash an exporter -----------------------------------------


def test_a_socks_proxy_is_an_unusable_setting_recorded_and_backed_off(home: Path) -> None:
    """ALL_PROXY=socks5://... (no socks support): no exception, the setting named, a
    back-off that keeps every command from starting an exporter."""
    spool_commands(home, ["a"])
    client = Client(env={"ALL_PROXY": "socks5://127.0.0.1:1080"})
    sink = _sink("http://127.0.0.1:9", client=client)
    report = drain(paths_for(home), sink.destination, sink=sink)
    kept = delivery.load(home / "delivery.json")
    assert report.last_error == "setting:proxy_scheme_socks5"
    assert kept.last_error == "setting:proxy_scheme_socks5"
    assert kept.in_backoff(time.time() + 200)
    assert launcher.should_start(paths_for(home)) == (False, launcher.BACKING_OFF)


def test_flush_with_an_unusable_proxy_reports_it_without_a_traceback(home: Path) -> None:
    """``flush`` with a socks proxy set: one line naming the setting, exit 1, no stderr."""
    recorder = Telemetry(
        "assembly",
        home=home,
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
        spawn=lambda *a, **k: None,
    )
    with recorder.command("a"):  # queued for that OTLP destination, as a real command does
        pass
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "ASSEMBLY_TELEMETRY_HOME": str(home),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "ALL_PROXY": "socks5://127.0.0.1:1080",
    }
    done = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "assembly", "--env-prefix",
         "ASSEMBLY", "flush", "--timeout", "5"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == ""
    assert "setting:proxy_scheme_socks5" in done.stdout


@pytest.mark.parametrize(("value", "wire"), [("café", b"caf\xe9"), ("naïve-€", "naïve-€".encode())])
def test_a_non_ascii_header_value_is_sent(home: Path, value: str, wire: bytes) -> None:
    """A header value outside ASCII goes out as the SDK sends it (latin-1), or as UTF-8
    where latin-1 cannot hold it; nothing crashes."""
    seen: list[bytes] = []

    def ok(conn: socket.socket, head: bytes) -> None:
        seen.append(head)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    server = RawServer(ok)
    try:
        spool_commands(home, ["a"])
        report = drain(paths_for(home), otlp(server.url, headers={"x-api-key": value}))
    finally:
        server.close()
    assert report.delivered == 1
    assert b"\r\nx-api-key: " + wire + b"\r\n" in seen[0]


def test_a_header_that_cannot_be_sent_is_an_unusable_setting(home: Path) -> None:
    """A header with a line break in its value is never sent: the setting is named."""
    spool_commands(home, ["a"])
    report = drain(paths_for(home), otlp("http://127.0.0.1:9", headers={"x-k": "a\r\nb: c"}))
    assert report.last_error == "setting:header_value"


def test_an_http_proxy_gets_absolute_form_and_connect(
    raw: Callable[[Behaviour], RawServer],
) -> None:
    """Through an http:// proxy, an http:// target is asked in absolute form; an https://
    target through a CONNECT tunnel (refused here: the failure is an OSError, not a crash)."""

    def proxy(conn: socket.socket, head: bytes) -> None:
        status = b"403 Forbidden" if head.startswith(b"CONNECT") else b"200 OK"
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")

    server = raw(proxy)
    env = {"HTTP_PROXY": server.url, "HTTPS_PROXY": server.url, "NO_PROXY": "skip.example"}
    assert post_once("http://otlp.example:4318/v1/traces", env).status == 200
    with pytest.raises(ConnectionError, match="403"):
        post_once("https://otlp.example/v1/traces", env)
    lines = [r.split(b"\r\n")[0] for r in server.requests]
    assert lines == [
        b"POST http://otlp.example:4318/v1/traces HTTP/1.1",
        b"CONNECT otlp.example:443 HTTP/1.1",
    ]
    assert proxy_for("https", "api.skip.example", 443, env) is None


# --- the child's own failures ----------------------------------------------------------


def test_a_child_failure_backs_off_every_later_command(home: Path) -> None:
    """A failure recorded by the child starts a back-off: no exporter starts for a while."""
    state.ensure_dir(home)
    paths = paths_for(home)
    delivery.record_failure(paths.delivery_file, paths.state_lock, ImportError(), "drain:otlp")
    kept = delivery.load(paths.delivery_file)
    assert kept.exporter_failure is not None
    assert kept.exporter_failure["type"] == "ImportError"
    assert kept.in_backoff()
    assert launcher.should_start(paths) == (False, launcher.BACKING_OFF)


# --- 5. the clock ----------------------------------------------------------------------


def test_a_backoff_written_with_the_clock_ahead_is_clamped_when_it_is_back(home: Path) -> None:
    """A run with the clock 2 h ahead writes a 5 min back-off: back on time, it holds 5 min
    from now, not 2 h; status shows that time."""
    now = time.time()
    ahead = now + 7200
    with OtlpReceiver([ScriptedResponse(503, {"Retry-After": "300"})]) as server:
        spool_commands(home, ["a"])
        drain(paths_for(home), otlp(server.url), deadline_s=1, wall=lambda: ahead)
    kept = delivery.load(home / "delivery.json")
    assert kept.next_attempt_at <= time.time() + 300
    assert not kept.in_backoff(now + 301)
    stored = json.loads((home / "delivery.json").read_text())
    assert stored["next_attempt_at"] == ahead + 300  # the file keeps what was written


def test_a_far_future_backoff_without_its_writing_time_is_capped() -> None:
    """A "not before" days ahead with no writing time (an old file) holds at most the cap,
    and a clock moved back cannot lengthen a back-off beyond what was written."""
    now = 2_000_000_000.0
    old = delivery.DeliveryState.from_json({"next_attempt_at": now + 3 * 86400})
    assert old.backoff_until(now) <= time.time() + delivery.MAX_RETRY_AFTER_S
    moved = delivery.DeliveryState()
    moved.set_backoff(60, now)
    assert moved.backoff_until(now - 3600) == now - 3600 + 60  # clock set back an hour
    assert moved.backoff_until(now + 30) == now + 60


# --- the same settings through real commands and their detached exporters ------------


def test_real_commands_with_a_socks_proxy_start_one_exporter_then_back_off(
    reap_exporters: Path, receiver_url: str
) -> None:
    """Real commands with ALL_PROXY=socks5://: the first exporter records the unusable
    setting and backs off; the next command starts none; ``status`` names it; the host's
    exit code and stderr are untouched."""
    home = reap_exporters
    env = cli_env(
        home, OTEL_EXPORTER_OTLP_ENDPOINT=receiver_url, ALL_PROXY="socks5://127.0.0.1:1080"
    )
    first = run_example("argparse_cli.py", "add", "x", env=env)
    assert (first.returncode, first.stderr) == (0, "")
    wait_for_exporters(home)
    runs = delivery.load(home / "delivery.json").exporter_runs
    assert run_example("argparse_cli.py", "add", "y", env=env).returncode == 0
    wait_for_exporters(home)
    kept = delivery.load(home / "delivery.json")
    assert kept.last_error == "setting:proxy_scheme_socks5"
    assert kept.exporter_runs == runs == 1
    assert len(spool.entries(home / "spool")) == 2
    status = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "tasks", "status"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "last delivery error: setting:proxy_scheme_socks5" in status.stdout


def test_a_real_command_sends_a_percent_encoded_non_ascii_header(reap_exporters: Path) -> None:
    """OTEL_EXPORTER_OTLP_HEADERS=x-api-key=caf%C3%A9 through a real command and its
    exporter: the span arrives, the header in latin-1 as the SDK sends it."""
    home = reap_exporters
    with OtlpReceiver() as server:
        env = cli_env(
            home,
            OTEL_EXPORTER_OTLP_ENDPOINT=server.url,
            OTEL_EXPORTER_OTLP_HEADERS="x-api-key=caf%C3%A9",
        )
        assert run_example("argparse_cli.py", "add", "x", env=env).returncode == 0
        (request,) = server.wait_for_requests(1, timeout=15)
        wait_for_exporters(home)
    assert request.headers["x-api-key"] in ("café", "caf\xe9")
    assert delivery.load(home / "delivery.json").delivered == 1


def test_bytes_after_a_gzip_stream_are_not_read_for_ever(
    raw: Callable[[Behaviour], RawServer],
) -> None:
    """A tiny gzip member followed by an endless flood: reading stops at the cap."""

    def flood(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip.compress(b"{}"))
        for _ in range(200):
            conn.sendall(b"\0" * 65536)

    response = post_once(raw(flood).url + "/v1/traces")
    assert response.status == 200
    assert response.truncated


def test_the_hard_deadline_records_before_it_exits(tmp_path: Path) -> None:
    """A child stuck past its hard deadline (a hung name lookup) first records the failure,
    then exits; a stuck recording cannot keep it alive (a second timer exits anyway)."""
    marker = tmp_path / "recorded"
    code = (
        "import time\n"
        "from otel_cli_telemetry._exporter import child\n"
        f"child._arm_hard_deadline(0.2, lambda: open({str(marker)!r}, 'w').close())\n"
        "time.sleep(30)\n"
    )
    stuck = "import time\nfrom otel_cli_telemetry._exporter import child\n"
    stuck += "child._arm_hard_deadline(0.2, lambda: time.sleep(60))\ntime.sleep(30)\n"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    for program in (code, stuck):
        done = subprocess.run([sys.executable, "-c", program], env=env, timeout=20, check=False)
        assert done.returncode == 0
    assert marker.exists()


def test_flush_reports_a_crash_in_one_line(home: Path) -> None:
    """``flush`` whose drain raises: one line naming the class, exit 1, the failure
    recorded with a back-off; no traceback."""
    import io

    from otel_cli_telemetry._admin.cli import do_flush

    state.ensure_dir(home)

    class Broken:
        _state_paths = paths_for(home)

        def flush(self, *args: Any, **kwargs: Any) -> Any:
            raise ImportError("no module named secret-thing")

    out = io.StringIO()
    assert do_flush(Broken(), out) == 1  # type: ignore[arg-type]
    assert out.getvalue() == "flush: failed (ImportError); everything is still waiting\n"
    kept = delivery.load(home / "delivery.json")
    assert kept.exporter_failure is not None
    assert (kept.exporter_failure["type"], kept.exporter_failure["step"]) == (
        "ImportError",
        "flush",
    )
    assert kept.in_backoff()
