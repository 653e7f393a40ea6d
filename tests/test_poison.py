"""Poison pills: one value, file or trace that cannot be carried costs only itself, never
the queue behind it."""

from __future__ import annotations

import contextlib
import http.server
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import destination, enqueue, otlp_json, spool, state
from otel_cli_telemetry._exporter.drain import drain
from otel_cli_telemetry._exporter.sinks import ExportResult
from otel_cli_telemetry._exporter.sinks._wire import Client, Response
from otel_cli_telemetry._exporter.sinks.otlp import OtlpHttpSink, to_protobuf
from tests.collector import OtlpReceiver, Rotel
from tests.test_trust import CLI, env_for, run, wait_for_exporters


class Answering(Client):
    """The transport seam: every request answered 200 without a network, its body kept."""

    def __init__(self, bodies: list[bytes]) -> None:
        super().__init__()
        self.bodies = bodies

    def post(self, url: str, body: bytes, headers: Any, timeout_s: float) -> Response:
        self.bodies.append(body)
        return Response(200, {}, b"", False)


def request_for(name: str, attributes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A minimal OTLP/JSON request holding one command span called ``name``."""
    span = {
        "traceId": os.urandom(16).hex(),
        "spanId": os.urandom(8).hex(),
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(time.time_ns()),
        "endTimeUnixNano": str(time.time_ns()),
        "attributes": [{"key": "process.exit.code", "value": {"intValue": "0"}}]
        + (attributes or []),
        "status": {},
    }
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}


def spool_requests(home: Path, requests: list[dict[str, Any]]) -> state.Paths:
    state.ensure_dir(home)
    for request in requests:
        enqueue.write(home / "spool", json.dumps(request).encode())
    return state.Paths(home=home, config_dir=home)


def otlp(url: str, protocol: str = "http/protobuf") -> destination.Destination:
    return destination.Destination(kind="otlp", endpoint=url, protocol=protocol)


# --- values beyond what OTLP carries, through the real collector ---------------------


@pytest.mark.collector
@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_unencodable_values_are_dropped_alone_on_the_way_to_a_collector(
    pipeline: tuple[Rotel, OtlpReceiver], tmp_path: Path, reap_exporters: Path, protocol: str
) -> None:
    """A child span with an integer beyond int64 (and NaN) set through ``telemetry.tracer``
    arrives without those attributes, counted as dropped; the next command arrives too."""
    collector, receiver = pipeline
    receiver.clear()
    home = reap_exporters
    cli = tmp_path / "trusty.py"
    cli.write_text(CLI)
    extra = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.http_endpoint,
             "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}  # fmt: skip
    assert run(cli, home, "big", **extra).returncode == 0
    assert run(cli, home, "after", **extra).returncode == 0
    wait_for_exporters(home)
    receiver.wait_for_spans(3, timeout=20)
    child = next(s for s in receiver.spans() if s.name == "child")
    assert child.attributes.get("ok") == 7
    assert "big" not in child.attributes
    dropped = next(
        span.dropped_attributes_count
        for msg in receiver.export_requests()
        for rs in msg.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
        if span.name == "child"
    )
    if protocol == "http/json":  # NaN cannot travel as OTLP/JSON: dropped too
        assert "nan" not in child.attributes
        assert dropped == 2
    else:
        assert math.isnan(float(child.attributes["nan"]))  # type: ignore[arg-type]
        assert dropped == 1
    assert {"trusty big", "trusty after"} <= {s.name for s in receiver.spans()}


# --- a spool file the exporter cannot convert -----------------------------------------


def test_an_unconvertible_spool_file_is_quarantined_alone(tmp_path: Path) -> None:
    """One spooled trace with an integer beyond int64 (written by an older version, or by
    hand) is quarantined; the traces before and after it are delivered in the same run."""
    bad = request_for("bad", [{"key": "n", "value": {"intValue": str(2**70)}}])
    requests = [request_for(f"good{i}") for i in range(2)] + [bad] + [request_for("good2")]
    paths = spool_requests(tmp_path / "home", requests)
    with OtlpReceiver() as receiver:
        report = drain(paths, otlp(receiver.traces_url))
        assert sorted(s.name for s in receiver.spans()) == ["good0", "good1", "good2"]
        assert len(receiver.requests) == 1
    assert (report.delivered, report.dropped) == (3, {"unencodable": 1})
    assert len(os.listdir(paths.quarantine_dir)) == 1
    assert spool.entries(paths.spool_dir) == []


# --- a batch refused for one trace in it -----------------------------------------------


class PickyCollector(http.server.ThreadingHTTPServer):
    """Accepts OTLP/protobuf unless the batch holds a span named ``poison``: then answers
    ``status`` for the whole batch, as a collector does for a value it cannot take."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.accepted: list[str] = []
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                spans = [
                    s.name
                    for rs in message.resource_spans
                    for ss in rs.scope_spans
                    for s in ss.spans
                ]
                server.requests += 1
                code = server.status if "poison" in spans else 200
                if code == 200:
                    server.accepted.extend(spans)
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"


@contextlib.contextmanager
def picky(status: int) -> Iterator[PickyCollector]:
    server = PickyCollector(status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_batch_is_split_until_the_bad_trace_is_isolated(
    tmp_path: Path, status: int
) -> None:
    """Of 16 traces in one batch, only the one the destination refuses is dropped, counted
    by reason; the split costs a logarithmic number of requests."""
    names = [f"t{i}" for i in range(16)]
    names[11] = "poison"
    paths = spool_requests(tmp_path / "home", [request_for(n) for n in names])
    with picky(status) as server:
        report = drain(paths, otlp(server.url))
        assert sorted(server.accepted) == sorted(n for n in names if n != "poison")
        assert server.requests <= 2 * 4 + 1
    assert report.delivered == 15
    assert report.dropped == {f"refused_http_{status}": 1}
    assert spool.entries(paths.spool_dir) == []


# --- properties -------------------------------------------------------------------------

SCALARS = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.booleans(),
    st.binary(max_size=8),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.none())


def _carriable(value: object, finite_only: bool) -> bool:
    if isinstance(value, (bool, str, bytes)):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value) or not finite_only
    if isinstance(value, list):
        return all(_carriable(v, finite_only) for v in value)
    return False


@settings(max_examples=200, deadline=None)
@given(values=st.dictionaries(st.text(min_size=1, max_size=8), VALUES, max_size=8),
       finite_only=st.booleans())  # fmt: skip
def test_any_attribute_value_encodes_or_is_dropped_and_counted(
    values: dict[str, object], finite_only: bool
) -> None:
    """Whatever the values, the encoded span converts to protobuf (and, for a JSON wire,
    to strict JSON); exactly the values OTLP cannot carry are dropped and counted."""
    encoder = otlp_json.Encoder(finite_only=finite_only)
    attrs, dropped = encoder.attributes(values)
    expected = sum(not _carriable(v, finite_only) for v in values.values())
    assert dropped == expected == encoder.dropped_values
    assert len(attrs) == len(values) - expected
    request = request_for("x", attrs)
    to_protobuf(request)
    if finite_only:
        json.dumps(request, allow_nan=False)
        doubles = [a["value"]["doubleValue"] for a in attrs if "doubleValue" in a["value"]]
        assert all(isinstance(d, float) for d in doubles)


SPOOL_FILES = st.one_of(
    st.builds(lambda: json.dumps(request_for("ok")).encode()),
    st.integers().map(
        lambda n: json.dumps(
            request_for("num", [{"key": "n", "value": {"intValue": str(n)}}])
        ).encode()
    ),
    st.binary(max_size=64),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    ).map(lambda v: json.dumps({"resourceSpans": v}).encode()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(SPOOL_FILES, min_size=1, max_size=8),
       protocol=st.sampled_from(["http/protobuf", "http/json"]))  # fmt: skip
def test_any_spool_contents_drain_without_blocking_the_queue(
    files: list[bytes], protocol: str
) -> None:
    """Whatever the spool holds, one drain empties it: every file is delivered,
    quarantined or dropped, and the drain never raises."""
    sent: list[bytes] = []

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        state.ensure_dir(home)
        for payload in files:
            enqueue.write(home / "spool", payload)
        paths = state.Paths(home=home, config_dir=home)
        client = Answering(sent)
        sink = OtlpHttpSink(otlp("http://collector.invalid/v1/traces", protocol), client=client)
        report = drain(paths, sink.destination, sink=sink)
        assert spool.entries(paths.spool_dir) == []
        assert report.delivered + sum(report.dropped.values()) == len(files)
        assert report.last_error is None


KINDS = ("fifo", "directory", "link_to_dev_zero", "link_to_a_file", "garbage", "empty")


def _make(path: Path, kind: str, elsewhere: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "directory":
        path.mkdir()
        (path / "inner").write_text("x")
    elif kind == "link_to_dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "link_to_a_file":
        elsewhere.write_text('{"enabled": false}')
        path.symlink_to(elsewhere)
    elif kind == "garbage":
        path.write_bytes(b"\x00\xff{not json")
    else:
        path.write_bytes(b"")


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(
        ["state.json", "config.toml", "delivery.json", "destination.json", "state.lock",
         "export.lock", "exporter.pid", "traces.jsonl", "spool", "quarantine"]
    ),
    kind=st.sampled_from(KINDS),
)  # fmt: skip
def test_any_state_entry_of_any_type_never_breaks_a_command(name: str, kind: str) -> None:
    """Any state entry replaced by any type of file: the command runs, its trace is
    spooled, and a link's target is left as it was."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        state.ensure_dir(home)
        elsewhere = Path(tmp) / "elsewhere.json"
        _make(home / name, kind, elsewhere)
        telemetry = Telemetry("poison", home=home, env={}, spawn=lambda *a, **k: None)
        with telemetry.command("x"):
            pass
        assert len(spool.entries(home / "spool")) == 1
        if kind == "link_to_a_file":
            assert elsewhere.read_text() == '{"enabled": false}'


def test_env_for_keeps_the_test_isolated(tmp_path: Path) -> None:
    """The helper the real-process tests share points the CLI at the given home only."""
    env = env_for(tmp_path)
    assert env["TRUSTY_TELEMETRY_HOME"] == str(tmp_path)
    assert not any(k.startswith("OTEL_") for k in env if k != "OTEL_CLI_TELEMETRY_LINGER_S")


# --- found by review: other sinks, nesting, hard links, rotation --------------------

WEIRD_VALUES = [
    {"key": "v", "value": 5},
    {"key": "v", "value": {"arrayValue": [1]}},
    {"key": "v", "value": {"intValue": "x"}},
    {"key": "v", "value": {"kvlistValue": {"values": [{"value": {"intValue": "1"}}]}}},
]


@pytest.mark.parametrize("kind", ["posthog", "datadog"])
@pytest.mark.parametrize("weird", WEIRD_VALUES, ids=["int", "array", "bad-int", "no-key"])
def test_vendor_sinks_set_aside_only_the_request_they_cannot_convert(
    tmp_path: Path, kind: str, weird: dict[str, Any]
) -> None:
    """A shape-valid spool file a vendor conversion rejects (a start time that is not a
    number) costs only itself; malformed attribute values are left out, never fatal; the
    requests before and after it are delivered in the same drain."""
    from otel_cli_telemetry._exporter.sinks.datadog import DatadogLogsSink
    from otel_cli_telemetry._exporter.sinks.posthog import PostHogSink

    bodies: list[bytes] = []

    bad = request_for("poisoned", [weird])
    bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] = "soon"
    odd = request_for("good1", [weird])
    paths = spool_requests(tmp_path / "home", [request_for("good0"), bad, odd])
    client = Answering(bodies)
    sink: Any
    if kind == "posthog":
        dest = destination.Destination(
            kind=kind, endpoint="https://ph.invalid/batch/", token="phc_" + "a1B2" * 8
        )
        sink = PostHogSink(dest, client=client)
    else:
        dest = destination.Destination(
            kind=kind, endpoint="https://dd.invalid/api/v2/logs", token="pub" + "0a" * 16
        )
        sink = DatadogLogsSink(dest, client=client)
    report = drain(paths, dest, sink=sink)
    assert report.delivered == 2
    assert report.dropped == {"unencodable": 1}
    sent = b"".join(bodies)
    assert b"good0" in sent
    assert b"good1" in sent
    assert b"poisoned" not in sent  # a name no uuid or hex id can contain


def test_a_spool_file_nested_too_deeply_is_quarantined(tmp_path: Path) -> None:
    """JSON nested deeper than the parser goes is corrupt data, not a crash of the drain."""
    paths = spool_requests(tmp_path / "home", [request_for("good")])
    deep = b'{"resourceSpans":[],"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    enqueue.write(paths.spool_dir, deep)
    with OtlpReceiver() as receiver:
        report = drain(paths, otlp(receiver.traces_url))
        assert [s.name for s in receiver.spans()] == ["good"]
    assert report.dropped == {"corrupt": 1}


def test_a_hard_linked_sink_file_is_never_written_through(tmp_path: Path) -> None:
    """A ``traces.jsonl`` that is a second name of another file is replaced, not appended to."""
    from otel_cli_telemetry._exporter.sinks.file import FileSink

    home = state.ensure_dir(tmp_path / "home")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.link(victim, home / "traces.jsonl")
    assert FileSink(home / "traces.jsonl").export([request_for("x")]).status is ExportResult.SUCCESS
    assert victim.read_text() == "precious\n"
    assert os.stat(home / "traces.jsonl").st_nlink == 1


def test_a_directory_in_the_way_of_rotation_is_moved_aside(tmp_path: Path) -> None:
    """``traces.jsonl.1`` as a directory does not stop the file sink for good."""
    from otel_cli_telemetry._exporter.sinks.file import FileSink

    home = state.ensure_dir(tmp_path / "home")
    (home / "traces.jsonl.1").mkdir()
    (home / "traces.jsonl").write_bytes(b"x" * 100)
    (home / "traces.jsonl").chmod(0o600)
    sink = FileSink(home / "traces.jsonl", max_bytes=50)
    assert sink.export([request_for("x")]).status is ExportResult.SUCCESS
    assert (home / "traces.jsonl.1").is_file()
