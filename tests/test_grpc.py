"""OTLP/gRPC: the ``grpc`` extra, in the exporter child only.

CLI ──spool──▶ exporter child ──OTLP/gRPC──▶ rotel's gRPC receiver ──OTLP/HTTP──▶ OtlpReceiver

The sink is also tested in-process against a small gRPC server started here on 127.0.0.1
(status codes, RetryInfo, partial success, metadata, gzip, TLS), and without grpcio (blocked
from importing): nothing is sent, the spans wait, and ``status`` says how to install it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb

from otel_cli_telemetry import OTLP, Telemetry
from otel_cli_telemetry._disk import delivery, destination, spool, state
from otel_cli_telemetry._exporter.drain import drain, make_sink
from otel_cli_telemetry._exporter.sinks import ExportResult
from otel_cli_telemetry._exporter.sinks import grpc as grpc_sink
from otel_cli_telemetry._exporter.sinks.grpc import OtlpGrpcSink
from otel_cli_telemetry._process import config
from tests.collector import OtlpReceiver, Rotel
from tests.conftest import ROOT, cli_env, run_example, wait_for_exporters
from tests.test_exporter import paths_for, spool_commands

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
NAME = "assembly transcribe"


# --------------------------------------------------------------------------------------
# A scripted OTLP/gRPC server on 127.0.0.1
# --------------------------------------------------------------------------------------


@dataclass
class Answer:
    """What the server answers to one Export: OK (with an optional partial success), or an
    error status with an optional RetryInfo delay in the trailing metadata."""

    code: grpc.StatusCode = grpc.StatusCode.OK
    retry_delay_s: float | None = None
    rejected_spans: int = 0
    sleep_s: float = 0.0


@dataclass
class Received:
    metadata: dict[str, str | bytes]
    request: pb.ExportTraceServiceRequest
    at: float

    def span_names(self) -> list[str]:
        return [
            span.name
            for rs in self.request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]


def status_details(code: grpc.StatusCode, delay_s: float) -> bytes:
    """A real ``google.rpc.Status`` with a ``google.rpc.RetryInfo``, as servers send it."""
    retry = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=int(delay_s), nanos=round((delay_s % 1) * 1e9))
    )
    detail = any_pb2.Any()
    detail.Pack(retry)
    status = status_pb2.Status(code=code.value[0], message="slow down", details=[detail])
    return status.SerializeToString()


@dataclass
class GrpcCollector:
    """Answers Export with ``script`` in order, then OK; records what it received."""

    script: list[Answer] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: Any = None

    def _export(self, request: pb.ExportTraceServiceRequest, context: Any) -> Any:
        self.received.append(
            Received(dict(context.invocation_metadata()), request, time.monotonic())
        )
        answer = self.script.pop(0) if self.script else Answer()
        if answer.sleep_s:
            time.sleep(answer.sleep_s)
        if answer.code != grpc.StatusCode.OK:
            if answer.retry_delay_s is not None:
                context.set_trailing_metadata(
                    (
                        (
                            "grpc-status-details-bin",
                            status_details(answer.code, answer.retry_delay_s),
                        ),
                    )
                )
            context.abort(answer.code, "scripted")
        response = pb.ExportTraceServiceResponse()
        if answer.rejected_spans:
            response.partial_success.rejected_spans = answer.rejected_spans
            response.partial_success.error_message = "too old"
        return response

    def start(self, credentials: Any = None) -> GrpcCollector:
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Export": grpc.unary_unary_rpc_method_handler(
                    self._export,
                    request_deserializer=pb.ExportTraceServiceRequest.FromString,
                    response_serializer=pb.ExportTraceServiceResponse.SerializeToString,
                )
            },
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers((handler,))
        if credentials is None:
            self.port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self._server.add_secure_port("127.0.0.1:0", credentials)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(None).wait(5)
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def collector() -> Iterator[GrpcCollector]:
    server = GrpcCollector().start()
    try:
        yield server
    finally:
        server.stop()


def grpc_dest(url: str, **kw: Any) -> destination.Destination:
    kw.setdefault("insecure", url.startswith("http://"))
    return destination.Destination(kind=destination.OTLP, endpoint=url, protocol="grpc", **kw)


def request(name: str = "x", trace_id: str = "0" * 31 + "1") -> dict[str, Any]:
    span = {"traceId": trace_id, "spanId": "0" * 15 + "2", "name": name}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


# --------------------------------------------------------------------------------------
# Configuration: protocol, endpoint, INSECURE
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("grpc", "grpc"),
        ("GRPC", "grpc"),
        (" gRPC ", "grpc"),
        ("HTTP/JSON", "http/json"),
        ("Http/Protobuf", "http/protobuf"),
        ("http/xml", "http/xml"),  # unsupported: kept, marked unusable (test_limits_and_urls)
    ],
)
def test_protocol_is_case_insensitive(value: str, expected: str) -> None:
    """The OTLP protocol is matched case-insensitively from both variables and the author's
    argument; an unknown one falls back from the environment and is refused from an author."""
    env = {config.OTLP_ENDPOINT: "http://c:4317", config.OTLP_PROTOCOL: value}
    settings = OTLP().resolve(env)
    assert settings is not None
    assert settings.protocol == expected
    # The traces-specific variable wins, with the same rules.
    env = {
        config.OTLP_ENDPOINT: "http://c:4317",
        config.OTLP_PROTOCOL: "http/protobuf",
        config.OTLP_TRACES_PROTOCOL: value,
    }
    assert OTLP().resolve(env).protocol == expected  # type: ignore[union-attr]
    # An author's argument too.
    if value.strip().lower() in config.PROTOCOLS:
        author = OTLP(endpoint="http://c:4317", protocol=value).resolve({})
        assert author is not None
        assert author.protocol == expected
    else:  # an author's unsupported protocol is refused when the object is made
        with pytest.raises(ValueError, match="protocol must be one of"):
            OTLP(endpoint="http://c:4317", protocol=value)


def test_author_protocol_any_case() -> None:
    """An author's ``protocol="GRPC"`` resolves to plaintext gRPC on an http:// endpoint, and an
    unknown protocol is refused."""
    telemetry = Telemetry(
        "x",
        destinations=[OTLP("http://c:4317", protocol="GRPC")],
        env={},
        spawn=lambda *a, **k: None,
    )
    [dest] = telemetry.destinations()
    assert (dest.protocol, dest.endpoint, dest.insecure) == ("grpc", "http://c:4317", True)
    with pytest.raises(ValueError, match="protocol"):
        Telemetry("x", destinations=[OTLP("http://c:4317", protocol="grpc+json")])


@pytest.mark.parametrize(
    ("env", "url", "insecure"),
    [
        # The generic endpoint is not suffixed with v1/traces for gRPC.
        ({config.OTLP_ENDPOINT: "http://c:4317"}, "http://c:4317", True),
        ({config.OTLP_ENDPOINT: "http://c:4317/"}, "http://c:4317", True),
        ({config.OTLP_ENDPOINT: "https://c:4317"}, "https://c:4317", False),
        ({config.OTLP_TRACES_ENDPOINT: "HTTP://c:4317"}, "http://c:4317", True),
        # No scheme: TLS unless INSECURE=true (only "true", any case).
        ({config.OTLP_ENDPOINT: "c:4317"}, "https://c:4317", False),
        ({config.OTLP_ENDPOINT: "c:4317", config.OTLP_INSECURE: "true"}, "http://c:4317", True),
        ({config.OTLP_ENDPOINT: "c:4317", config.OTLP_INSECURE: "TRUE"}, "http://c:4317", True),
        ({config.OTLP_ENDPOINT: "c:4317", config.OTLP_INSECURE: "1"}, "https://c:4317", False),
        (
            {
                config.OTLP_ENDPOINT: "c:4317",
                config.OTLP_INSECURE: "true",
                config.OTLP_TRACES_INSECURE: "false",
            },
            "https://c:4317",
            False,
        ),
        # The scheme decides when there is one (INSECURE applies to scheme-less endpoints).
        (
            {config.OTLP_ENDPOINT: "https://c:4317", config.OTLP_INSECURE: "true"},
            "https://c:4317",
            False,
        ),
        (
            {config.OTLP_ENDPOINT: "http://c:4317", config.OTLP_INSECURE: "false"},
            "http://c:4317",
            True,
        ),
    ],
)
def test_grpc_endpoint_and_insecure(env: dict[str, str], url: str, insecure: bool) -> None:
    """gRPC endpoints are used without v1/traces; the scheme decides TLS, and INSECURE=true
    (traces-specific first) only for scheme-less endpoints."""
    env = {config.OTLP_PROTOCOL: "grpc", **env}
    dest = OTLP().resolve(env)
    assert dest is not None
    assert (dest.kind, dest.protocol, dest.endpoint, dest.insecure) == (
        "otlp",
        "grpc",
        url,
        insecure,
    )
    assert destination.Destination.from_json(dest.to_json()) == dest
    assert dest.describe() == f"OTLP grpc to {url}"


@pytest.mark.parametrize("raw", ["unix:///tmp/sock", "ftp://c:4317", "c:4317/v1/traces", "a b"])
def test_unusable_grpc_endpoint_disables_otlp(raw: str) -> None:
    """An endpoint gRPC cannot use is marked unusable (nothing sent, its traces wait, status
    says why), never replaced by the local file (tests/test_limits_and_urls.py)."""
    env = {config.OTLP_PROTOCOL: "grpc", config.OTLP_ENDPOINT: raw}
    dest = OTLP().resolve(env)
    assert dest is not None
    assert dest.problem is not None


def test_http_endpoints_are_unchanged_and_never_insecure() -> None:
    """HTTP endpoints get v1/traces and ignore INSECURE, and a stored protocol is normalised when
    loaded."""
    env = {config.OTLP_ENDPOINT: "http://c:4318", config.OTLP_INSECURE: "true"}
    settings = OTLP().resolve(env)
    assert settings is not None
    assert (settings.endpoint, settings.insecure) == ("http://c:4318/v1/traces", False)
    data = grpc_dest("http://c:4318/v1/traces").to_json() | {"protocol": "HTTP/JSON"}
    loaded = destination.Destination.from_json(data)
    assert (loaded.protocol, loaded.insecure) == ("http/json", False)
    assert destination.Destination.from_json(data | {"protocol": "GRPC"}).protocol == "grpc"


# --------------------------------------------------------------------------------------
# The sink against a real gRPC server
# --------------------------------------------------------------------------------------


def test_delivers_every_request_merged_with_metadata(collector: GrpcCollector) -> None:
    """One Export carrying every request; headers as lower-case metadata; user agent."""
    settings = OTLP(headers={"X-Tenant": "acme"}).resolve(
        {
            config.OTLP_PROTOCOL: "grpc",
            config.OTLP_ENDPOINT: collector.url,
            config.OTLP_HEADERS: "X-Api-Key=s%C3%A9cret,Authorization=Bearer%20tok",
        }
    )
    assert settings is not None
    dest = destination.Destination(
        kind="otlp",
        endpoint=settings.endpoint,
        protocol=settings.protocol,
        headers={**settings.headers, "Upper-Case": "v", "te": "trailers", "bad key": "x"},
        insecure=settings.insecure,
    )
    sink = OtlpGrpcSink(dest)
    try:
        result = sink.export([request("a"), request("b"), request("c")], timeout_s=5)
    finally:
        sink.shutdown()
    assert result.status == ExportResult.SUCCESS
    [received] = collector.received
    assert received.span_names() == ["a", "b", "c"]
    meta = received.metadata
    assert meta["authorization"] == "Bearer tok"
    assert meta["x-tenant"] == "acme"
    assert meta["upper-case"] == "v"
    assert "bad key" not in meta
    # Not ASCII: gRPC cannot carry it in a text entry; left out, never sent mangled.
    assert "x-api-key" not in meta
    assert str(meta["user-agent"]).startswith("otel-cli-telemetry/")
    assert all(key == key.lower() for key in meta)


def test_unavailable_then_ok_is_retried(home: Path, collector: GrpcCollector) -> None:
    """UNAVAILABLE is retried after one back-off (through the sleep seam) and the batch is then
    delivered and the failure count reset."""
    collector.script[:] = [Answer(grpc.StatusCode.UNAVAILABLE)]
    spool_commands(home, ["a", "b"])
    waits: list[float] = []
    report = drain(paths_for(home), grpc_dest(collector.url), deadline_s=30, sleep=waits.append)
    assert report.delivered == 2
    assert report.attempts == 2
    assert len(waits) == 1
    assert len(collector.received) == 2
    assert sorted(collector.received[1].span_names()) == ["assembly a", "assembly b"]
    assert spool.entries(home / "spool") == []
    saved = delivery.load(home / "delivery.json")
    assert (saved.failures, saved.delivered, saved.last_error) == (0, 2, None)


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    ],
)
def test_retryable_codes(collector: GrpcCollector, code: grpc.StatusCode) -> None:
    """Each retryable gRPC code gives RETRY, with the RetryInfo delay when the server sends one."""
    collector.script[:] = [Answer(code), Answer(code, retry_delay_s=1.25)]
    sink = OtlpGrpcSink(grpc_dest(collector.url))
    try:
        plain = sink.export([request()], timeout_s=5)
        with_info = sink.export([request()], timeout_s=5)
    finally:
        sink.shutdown()
    assert (plain.status, plain.reason, plain.retry_after_s) == (
        ExportResult.RETRY,
        f"grpc_{code.name.lower()}",
        None,
    )
    assert (with_info.status, with_info.retry_after_s) == (ExportResult.RETRY, 1.25)


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    ],
)
def test_other_codes_drop(home: Path, collector: GrpcCollector, code: grpc.StatusCode) -> None:
    """Non-retryable gRPC codes drop the trace after one request, counted by code, even with a
    RetryInfo."""
    collector.script[:] = [Answer(code, retry_delay_s=3.0)]  # a RetryInfo changes nothing
    spool_commands(home, ["a"])
    report = drain(paths_for(home), grpc_dest(collector.url), deadline_s=10)
    reason = f"refused_grpc_{code.name.lower()}"
    assert report.dropped == {reason: 1}
    assert len(collector.received) == 1
    assert spool.entries(home / "spool") == []
    assert delivery.load(home / "delivery.json").dropped == {reason: 1}


def test_resource_exhausted_retries_only_with_retry_info(
    home: Path, collector: GrpcCollector
) -> None:
    """With a RetryInfo: retried after exactly its delay. Without: dropped."""
    collector.script[:] = [Answer(grpc.StatusCode.RESOURCE_EXHAUSTED, retry_delay_s=2.5)]
    spool_commands(home, ["a"])
    waits: list[float] = []
    report = drain(paths_for(home), grpc_dest(collector.url), deadline_s=30, sleep=waits.append)
    assert waits == [2.5]
    assert report.delivered == 1
    assert len(collector.received) == 2

    collector.script[:] = [Answer(grpc.StatusCode.RESOURCE_EXHAUSTED)]
    spool_commands(home, ["b"])
    report = drain(paths_for(home), grpc_dest(collector.url), deadline_s=30, sleep=waits.append)
    assert report.dropped == {"refused_grpc_resource_exhausted": 1}
    assert spool.entries(home / "spool") == []


def test_retry_info_delay_is_persisted_as_back_off(home: Path, collector: GrpcCollector) -> None:
    """A delay longer than the run: the spool is kept, and later commands wait that long."""
    collector.script[:] = [Answer(grpc.StatusCode.UNAVAILABLE, retry_delay_s=120)]
    spool_commands(home, ["a"])
    before = time.time()
    report = drain(paths_for(home), grpc_dest(collector.url), deadline_s=5)
    assert report.backing_off
    assert report.last_error == "grpc_unavailable"
    saved = delivery.load(home / "delivery.json")
    assert before + 119 <= saved.next_attempt_at <= time.time() + 121
    assert len(spool.entries(home / "spool")) == 1


def test_partial_success_is_accepted(home: Path, collector: GrpcCollector) -> None:
    """A gRPC partial success is a SUCCESS whose rejected spans are counted, not retried."""
    collector.script[:] = [Answer(rejected_spans=2)]
    sink = OtlpGrpcSink(grpc_dest(collector.url))
    try:
        result = sink.export([request()], timeout_s=5)
    finally:
        sink.shutdown()
    assert (result.status, result.rejected_spans) == (ExportResult.SUCCESS, 2)
    collector.script[:] = [Answer(rejected_spans=1)]
    spool_commands(home, ["a"])
    report = drain(paths_for(home), grpc_dest(collector.url), deadline_s=10)
    assert report.delivered == 1
    assert delivery.load(home / "delivery.json").dropped == {"partial_success_rejected_spans": 1}


def test_unencodable_requests_are_named(home: Path, collector: GrpcCollector) -> None:
    """A request that cannot become protobuf is named by index in a FAILURE and nothing is sent."""
    sink = OtlpGrpcSink(grpc_dest(collector.url))
    try:
        result = sink.export([request("a"), request("b", trace_id="zz"), request("c")], timeout_s=5)
    finally:
        sink.shutdown()
    assert (result.status, result.reason, result.unencodable) == (
        ExportResult.FAILURE,
        "unencodable",
        (1,),
    )
    assert collector.received == []


def test_timeout_is_bounded_by_the_time_left(collector: GrpcCollector) -> None:
    """The per-request timeout (OTEL_EXPORTER_OTLP_TIMEOUT) and the drain's remaining time,
    whichever is shorter, become the call's deadline."""
    collector.script[:] = [Answer(sleep_s=2.0), Answer(sleep_s=2.0)]

    def export(setting_s: float, left_s: float) -> tuple[Any, float]:
        sink = OtlpGrpcSink(grpc_dest(collector.url, timeout_s=setting_s))
        try:
            started = time.monotonic()
            result = sink.export([request()], timeout_s=left_s)
            return result, time.monotonic() - started
        finally:
            sink.shutdown()

    by_deadline, elapsed = export(setting_s=10.0, left_s=0.3)
    assert (by_deadline.status, by_deadline.reason) == (
        ExportResult.RETRY,
        "grpc_deadline_exceeded",
    )
    assert elapsed < 1.5
    by_setting, elapsed = export(setting_s=0.3, left_s=10)
    assert by_setting.reason == "grpc_deadline_exceeded"
    assert elapsed < 1.5


def test_nothing_listening_is_retryable(dead_url: str) -> None:
    """A gRPC endpoint where nothing listens gives RETRY ``grpc_unavailable``."""
    sink = OtlpGrpcSink(grpc_dest(dead_url))
    try:
        result = sink.export([request()], timeout_s=2)
    finally:
        sink.shutdown()
    assert (result.status, result.reason) == (ExportResult.RETRY, "grpc_unavailable")


class TcpRecorder:
    """A loopback TCP relay to ``port`` that keeps the bytes the client sent."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.sent = bytearray()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._spawn(self._accept)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, upstream]
            self._spawn(self._pump, client, upstream, True)
            self._spawn(self._pump, upstream, client, False)

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if record:
                    self.sent += data
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        # shutdown wakes the accept() blocked in _accept (close alone does not, on Linux,
        # and the join below would wait out its timeout)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_gzip(collector: GrpcCollector, compression: str | None) -> None:
    """With gzip the message is compressed on the wire (and the server reads it whole)."""
    marker = "compressible-" * 200
    relay = TcpRecorder(collector.port)
    sink = OtlpGrpcSink(grpc_dest(f"http://127.0.0.1:{relay.port}", compression=compression))
    try:
        result = sink.export([request(marker)], timeout_s=5)
    finally:
        sink.shutdown()
        relay.close()
    assert result.status == ExportResult.SUCCESS
    assert collector.received[0].span_names() == [marker]
    on_wire = marker.encode() in bytes(relay.sent)
    assert on_wire == (compression is None)
    if compression:
        assert len(relay.sent) < len(marker)


# --------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A private CA, a server certificate for 127.0.0.1 and a client certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=test-ca", cwd=tmp_path)  # fmt: skip
    (tmp_path / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", f"/CN={name}", cwd=tmp_path)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", "ext.cnf",
                 cwd=tmp_path)  # fmt: skip
    return tmp_path


@pytest.mark.parametrize("mutual", [False, True])
def test_tls_verified_with_certificate_variables(pki: Path, mutual: bool) -> None:
    """Unknown CA: nothing delivered. OTEL_EXPORTER_OTLP_CERTIFICATE (and, for mutual TLS,
    CLIENT_CERTIFICATE / CLIENT_KEY): delivered. Plaintext to a TLS port: not delivered."""
    credentials = grpc.ssl_server_credentials(
        [((pki / "server.key").read_bytes(), (pki / "server.pem").read_bytes())],
        root_certificates=(pki / "ca.pem").read_bytes() if mutual else None,
        require_client_auth=mutual,
    )
    server = GrpcCollector().start(credentials)
    url = f"https://127.0.0.1:{server.port}"
    base = {config.OTLP_PROTOCOL: "grpc", config.OTLP_ENDPOINT: url}
    trusted = {**base, config.OTLP_TRACES_CERTIFICATE: str(pki / "ca.pem")}
    client = {
        config.OTLP_CLIENT_CERTIFICATE: str(pki / "client.pem"),
        config.OTLP_CLIENT_KEY: str(pki / "client.key"),
    }

    def export(env: dict[str, str]) -> Any:
        dest = OTLP().resolve(env)
        assert dest is not None
        sink = make_sink(dest, state.Paths(home=pki, config_dir=pki))
        try:
            return sink.export([request()], timeout_s=3)
        finally:
            sink.shutdown()

    try:
        assert export(base).status == ExportResult.RETRY
        assert (
            export({**base, config.OTLP_ENDPOINT: f"http://127.0.0.1:{server.port}"}).status
            == ExportResult.RETRY
        )
        assert server.received == []
        if mutual:
            assert export(trusted).status == ExportResult.RETRY  # no client certificate
            assert server.received == []
        assert export({**trusted, **client}).status == ExportResult.SUCCESS
        assert len(server.received) == 1
        missing = {**trusted, config.OTLP_CERTIFICATE: str(pki / "absent.pem")}
        missing[config.OTLP_TRACES_CERTIFICATE] = str(pki / "absent.pem")
        result = export(missing)
        assert (result.status, result.reason) == (
            ExportResult.RETRY,
            "tls_config:FileNotFoundError",
        )
    finally:
        server.stop()


# --------------------------------------------------------------------------------------
# RetryInfo parsing and the status hint
# --------------------------------------------------------------------------------------


def test_retry_delay_parsing() -> None:
    """The RetryInfo delay is read from grpc-status-details, capped at an hour, and absent for other
    details or junk."""
    assert grpc_sink.retry_delay(status_details(grpc.StatusCode.UNAVAILABLE, 0.5)) == 0.5
    assert grpc_sink.retry_delay(status_details(grpc.StatusCode.UNAVAILABLE, 7)) == 7.0
    # Capped like Retry-After.
    assert grpc_sink.retry_delay(status_details(grpc.StatusCode.UNAVAILABLE, 10**6)) == 3600.0
    # Another detail type, no detail, junk: no delay.
    other = any_pb2.Any()
    other.Pack(error_details_pb2.DebugInfo(detail="x"))
    assert (
        grpc_sink.retry_delay(status_pb2.Status(code=14, details=[other]).SerializeToString())
        is None
    )
    assert grpc_sink.retry_delay(status_pb2.Status(code=14).SerializeToString()) is None
    assert grpc_sink.retry_delay(b"\xff\xff\xff") is None
    assert grpc_sink.retry_delay(b"\x1a\x05ab") is None


def test_status_hint_only_for_grpc_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """``status`` prints the one-line grpc install hint only for a gRPC destination when grpcio is
    missing."""
    line = "OTLP grpc to http://c:4317"
    assert grpc_sink.status_lines(line) == []  # grpcio is installed here
    assert grpc_sink.status_lines("OTLP http/protobuf to http://c:4318/v1/traces") == []
    monkeypatch.setitem(sys.modules, "grpc", None)
    [hint] = grpc_sink.status_lines(f"local file; {line}")
    assert "grpc" in hint
    assert "pip install 'otel-cli-telemetry[grpc]'" in hint
    assert "\n" not in hint


# --------------------------------------------------------------------------------------
# Without the extra
# --------------------------------------------------------------------------------------


def _no_grpc() -> Any:
    raise ImportError("No module named 'grpc'")


def test_missing_extra_keeps_the_spool(home: Path, collector: GrpcCollector) -> None:
    """Without grpcio the gRPC sink answers RETRY ``grpc_extra_missing``: nothing is sent or dropped
    and the spool is kept."""
    spool_commands(home, ["a"])
    dest = grpc_dest(collector.url)
    sink = OtlpGrpcSink(dest, load_grpc=_no_grpc)
    result = sink.export([request()], timeout_s=5)
    assert (result.status, result.reason) == (ExportResult.RETRY, "grpc_extra_missing")
    report = drain(paths_for(home), dest, deadline_s=5, sink=OtlpGrpcSink(dest, load_grpc=_no_grpc))
    assert (report.delivered, report.dropped, report.attempts) == (0, {}, 1)
    assert report.backing_off
    assert report.last_error == "grpc_extra_missing"
    assert len(spool.entries(home / "spool")) == 1
    assert collector.received == []


@pytest.fixture
def without_grpc(tmp_path: Path) -> str:
    """A PYTHONPATH entry whose sitecustomize makes ``import grpc`` fail, in the CLI and in
    the exporter child it starts (PYTHONPATH passes through to it)."""
    site = tmp_path / "no-grpc"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['grpc'] = None\n")
    return str(site)


def test_without_the_extra_nothing_is_sent_and_status_says_why(
    home: Path, reap_exporters: Path, without_grpc: str
) -> None:
    """A real CLI and its real exporter child, grpcio not importable: no byte goes to the
    gRPC endpoint (no OTLP/HTTP fallback), the span waits, ``status`` says how to fix it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        env = cli_env(
            home,
            OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            PYTHONPATH=f"{without_grpc}:{ROOT}",
        )
        probe = subprocess.run(
            [sys.executable, "-c", "import grpc"], env=env, capture_output=True, check=False
        )
        assert probe.returncode != 0  # the blocker works
        result = run_example("typer_cli.py", "transcribe", "x", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        wait_for_exporters(home, timeout=20)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever connected
    finally:
        listener.close()
    assert len(spool.entries(home / "spool")) == 1
    saved = delivery.load(home / "delivery.json")
    assert saved.last_error == "grpc_extra_missing"
    assert saved.dropped == {}

    status = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "assembly", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert f"destination: OTLP grpc to {endpoint}" in lines
    hints = [line for line in lines if "pip install 'otel-cli-telemetry[grpc]'" in line]
    assert len(hints) == 1
    assert "OTLP/gRPC needs the grpc extra" in hints[0]
    assert "spooled traces waiting: 1" in lines
    # With grpcio importable the hint goes away.
    env["PYTHONPATH"] = str(ROOT)
    status = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "assembly", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "otel-cli-telemetry[grpc]" not in status.stdout


def test_the_cli_process_never_imports_grpc(home: Path) -> None:
    """A command with OTLP/gRPC configured, and ``status``: grpc stays out of the CLI."""
    code = (
        "import sys\n"
        "from otel_cli_telemetry import Telemetry\n"
        "t = Telemetry('assembly', spawn=lambda *a, **k: None)\n"
        "with t.command('x'):\n"
        "    pass\n"
        "t.status().lines()\n"
        "assert [d.protocol for d in t.destinations()] == ['grpc'], t.destinations()\n"
        "assert 'grpc' not in sys.modules, 'grpc imported'\n"
    )
    env = cli_env(
        home, OTEL_EXPORTER_OTLP_PROTOCOL="GRPC", OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4317"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------------------
# End to end through rotel's OTLP/gRPC receiver
# --------------------------------------------------------------------------------------


@pytest.mark.collector
@pytest.mark.parametrize(
    "variables",
    [
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        {
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "GRPC",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_HEADERS": "X-Team=cli",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "5000",
        },
    ],
    ids=["grpc", "GRPC-gzip-headers"],
)
def test_command_span_arrives_through_rotel_grpc(
    pipeline: tuple[Rotel, OtlpReceiver],
    home: Path,
    reap_exporters: Path,
    variables: dict[str, str],
) -> None:
    """A real CLI's spans reach the backend through rotel's gRPC port via the detached child, with
    status naming the gRPC destination."""
    collector, receiver = pipeline
    receiver.clear()
    env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=collector.grpc_endpoint, **variables)
    result = run_example("typer_cli.py", "transcribe", "x", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""

    # The CLI has exited: what arrives now was sent by its detached exporter child.
    end = time.monotonic() + 20
    while time.monotonic() < end and not any(s.name == NAME for s in receiver.spans()):
        time.sleep(0.05)
    [root] = [s for s in receiver.spans() if s.name == NAME]
    [child] = [s for s in receiver.spans() if s.name == "load model"]
    assert child.trace_id == root.trace_id
    assert child.parent_span_id == root.span_id
    assert root.attributes["process.exit.code"] == 0
    assert root.resource_attributes["service.name"] == "assembly"
    wait_for_exporters(home)
    assert spool.entries(home / "spool") == []
    saved = delivery.load(home / "delivery.json")
    assert (saved.delivered, saved.last_error) == (1, None)
    status = run_example("typer_cli.py", "telemetry", "status", env=env)
    assert f"destination: OTLP grpc to {collector.grpc_endpoint}" in status.stdout
    assert "otel-cli-telemetry[grpc]" not in status.stdout
