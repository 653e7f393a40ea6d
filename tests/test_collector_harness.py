"""Tests proving the collector harness (tests/collector.py) works for real."""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import os
import socket
import time
from collections.abc import Iterator
from importlib.machinery import ModuleSpec

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests import collector
from tests.collector import (
    OtlpReceiver,
    Rotel,
    RotelError,
    export_request_to_otlp_json,
    rotel_binary_or_skip,
)

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def _make_spans() -> tuple[ReadableSpan, ...]:
    """A parent and a child span from a real SDK TracerProvider."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "harness-test", "deploy": "ci"})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("harness.scope", "1.2.3")
    with tracer.start_as_current_span("cli.run", kind=SpanKind.SERVER) as parent:
        parent.set_attribute("cli.command", "deploy")
        parent.set_attribute("cli.args", ["--force", "prod"])
        parent.set_attribute("cli.dry_run", False)
        parent.set_attribute("cli.retries", 3)
        parent.set_attribute("cli.ratio", 0.5)
        with tracer.start_as_current_span("cli.step") as child:
            child.add_event("started", {"step": 1})
            child.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return exporter.get_finished_spans()


def _export_request() -> ExportTraceServiceRequest:
    return encode_spans(_make_spans())


def _check_forwarded(spans: list[collector.ReceivedSpan]) -> None:
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"cli.run", "cli.step"}
    parent, child = by_name["cli.run"], by_name["cli.step"]
    assert parent.attributes == {
        "cli.command": "deploy",
        "cli.args": ["--force", "prod"],
        "cli.dry_run": False,
        "cli.retries": 3,
        "cli.ratio": 0.5,
    }
    assert parent.kind == 2  # SPAN_KIND_SERVER
    assert parent.parent_span_id == ""
    assert len(parent.trace_id) == 32
    assert len(parent.span_id) == 16
    assert child.trace_id == parent.trace_id
    assert child.parent_span_id == parent.span_id
    assert child.status_code == 2
    assert child.status_message == "boom"
    assert [(e.name, e.attributes) for e in child.events] == [("started", {"step": 1})]
    assert parent.resource_attributes["service.name"] == "harness-test"
    assert parent.resource_attributes["deploy"] == "ci"
    assert (parent.scope_name, parent.scope_version) == ("harness.scope", "1.2.3")
    assert parent.start_time_unix_nano <= child.start_time_unix_nano
    assert child.end_time_unix_nano <= parent.end_time_unix_nano


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as r:
        yield r


@pytest.fixture
def rotel_to_receiver(receiver: OtlpReceiver) -> Iterator[Rotel]:
    with Rotel(receiver.url, binary=rotel_binary_or_skip()) as r:
        yield r


# -- OtlpReceiver on its own ---------------------------------------------------


def test_receiver_decodes_protobuf_gzip(receiver: OtlpReceiver) -> None:
    """The test receiver accepts gzipped OTLP protobuf, answers an empty protobuf response and
    records the raw and decoded body."""
    body = gzip.compress(_export_request().SerializeToString())
    resp = httpx.post(
        receiver.traces_url,
        content=body,
        headers={**PROTOBUF, "Content-Encoding": "gzip"},
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-protobuf"
    assert resp.content == b""  # empty ExportTraceServiceResponse
    _check_forwarded(receiver.wait_for_spans(2, timeout=1))
    (req,) = receiver.requests
    assert (req.path, req.content_type, req.status) == ("/v1/traces", "application/x-protobuf", 200)
    assert req.headers["content-encoding"] == "gzip"
    assert req.body == body
    assert req.payload == gzip.decompress(body)


def test_receiver_decodes_otlp_json_any_values(receiver: OtlpReceiver) -> None:
    """The test receiver decodes OTLP/JSON with every AnyValue kind, hex ids and unknown fields into
    the recorded span."""
    doc = {
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "json-svc"}}
            ]},
            "scopeSpans": [{
                "scope": {"name": "json.scope", "version": "0.1"},
                "spans": [{
                    "traceId": "0af7651916cd43dd8448eb211c80319c",
                    "spanId": "b7ad6b7169203331",
                    "parentSpanId": "00f067aa0ba902b7",
                    "name": "json-span",
                    "kind": 3,
                    "startTimeUnixNano": "1700000000000000000",
                    "endTimeUnixNano": "1700000000500000000",
                    "status": {"code": 1},
                    "attributes": [
                        {"key": "s", "value": {"stringValue": "x"}},
                        {"key": "b", "value": {"boolValue": True}},
                        {"key": "i", "value": {"intValue": "42"}},
                        {"key": "d", "value": {"doubleValue": 1.5}},
                        {"key": "raw", "value": {"bytesValue": base64.b64encode(
                            b"\x00\x01").decode()}},
                        {"key": "arr", "value": {"arrayValue": {"values": [
                            {"intValue": 1}, {"stringValue": "two"}]}}},
                        {"key": "kv", "value": {"kvlistValue": {"values": [
                            {"key": "inner", "value": {"boolValue": False}}]}}},
                        {"key": "empty", "value": {}},
                    ],
                    "someFutureField": "ignored",
                }],
            }],
        }]
    }  # fmt: skip
    resp = httpx.post(receiver.traces_url, content=json.dumps(doc), headers=JSON)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {}
    (span,) = receiver.wait_for_spans(1, timeout=1)
    assert span.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert span.span_id == "b7ad6b7169203331"
    assert span.parent_span_id == "00f067aa0ba902b7"
    assert (span.name, span.kind, span.status_code) == ("json-span", 3, 1)
    assert span.end_time_unix_nano - span.start_time_unix_nano == 500_000_000
    assert span.attributes == {
        "s": "x", "b": True, "i": 42, "d": 1.5, "raw": b"\x00\x01",
        "arr": [1, "two"], "kv": {"inner": False}, "empty": None,
    }  # fmt: skip
    assert span.resource_attributes == {"service.name": "json-svc"}
    assert (span.scope_name, span.scope_version) == ("json.scope", "0.1")


def test_receiver_json_round_trip_helper(receiver: OtlpReceiver) -> None:
    """The harness's protobuf-to-OTLP/JSON helper writes hex ids and its output is accepted and
    decoded by the receiver."""
    body = export_request_to_otlp_json(_export_request())
    assert b'"traceId": "' in body  # hex, not base64
    resp = httpx.post(receiver.traces_url, content=body, headers=JSON)
    assert resp.status_code == 200
    _check_forwarded(receiver.wait_for_spans(2, timeout=1))


def test_receiver_rejects_garbage(receiver: OtlpReceiver) -> None:
    """Malformed protobuf, JSON, gzip and an unknown content type get 400 or 415, are recorded as
    errors and store no span."""
    bad_pb = httpx.post(receiver.traces_url, content=b"\xff\xff\xff", headers=PROTOBUF)
    bad_json = httpx.post(receiver.traces_url, content=b"{nope", headers=JSON)
    bad_type = httpx.post(receiver.traces_url, content=b"x", headers={"Content-Type": "text/plain"})
    bad_gzip = httpx.post(
        receiver.traces_url, content=b"not gzip", headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )
    assert [r.status_code for r in (bad_pb, bad_json, bad_type, bad_gzip)] == [400, 400, 415, 400]
    assert [r.status for r in receiver.requests] == [400, 400, 415, 400]
    assert all(r.error for r in receiver.requests)
    assert receiver.spans() == []


def test_receiver_scripted_statuses(receiver: OtlpReceiver) -> None:
    """Enqueued answers are served in order with their headers and body, then 200, and only the
    accepted request's spans are stored."""
    receiver.enqueue(503, {"Retry-After": "1"}, b"busy")
    receiver.enqueue(429)
    body = _export_request().SerializeToString()
    with httpx.Client() as client:
        statuses = []
        for _ in range(3):
            resp = client.post(receiver.traces_url, content=body, headers=PROTOBUF)
            statuses.append(resp.status_code)
            if resp.status_code == 503:
                assert resp.headers["retry-after"] == "1"
                assert resp.content == b"busy"
    assert statuses == [503, 429, 200]
    assert [r.status for r in receiver.requests] == [503, 429, 200]
    assert receiver.pending_responses == 0
    assert len(receiver.spans()) == 2  # only the accepted request counts


def test_receiver_scripted_via_constructor() -> None:
    """Answers scripted through the constructor are served in order and even a scripted 200 stores
    no span."""
    with OtlpReceiver(responses=[(500, {}, b""), (200, {}, b"")]) as r:
        body = _export_request().SerializeToString()
        first = httpx.post(r.traces_url, content=body, headers=PROTOBUF)
        second = httpx.post(r.traces_url, content=body, headers=PROTOBUF)
        # a scripted 200 answers as scripted and its spans are not stored
        assert (first.status_code, second.status_code) == (500, 200)
        assert r.spans() == []
        assert len(r.wait_for_requests(2, timeout=1)) == 2


def test_wait_for_spans_times_out_with_report(receiver: OtlpReceiver) -> None:
    """``wait_for_spans`` gives up at its timeout with an error listing the requests it saw."""
    httpx.post(receiver.url + "/other", content=b"abc")
    began = time.monotonic()
    with pytest.raises(AssertionError, match=r"at least 1 span.*POST /other"):
        receiver.wait_for_spans(1, timeout=0.3)
    assert time.monotonic() - began < 2


def test_receiver_close_ends_server() -> None:
    """Closing the receiver is prompt despite an open keep-alive connection, idempotent, and frees
    the port."""
    r = OtlpReceiver()
    port = r.port
    with httpx.Client() as client:  # leave a keep-alive connection open
        client.post(r.url + "/x", content=b"")
        began = time.monotonic()
        r.close()
        assert time.monotonic() - began < 3
    r.close()  # idempotent
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass


# -- through the real rotel collector ------------------------------------------


@pytest.mark.collector
def test_rotel_forwards_protobuf(receiver: OtlpReceiver, rotel_to_receiver: Rotel) -> None:
    """rotel accepts OTLP protobuf and forwards the spans, gzipped protobuf, to the receiver's
    /v1/traces."""
    body = _export_request().SerializeToString()
    resp = httpx.post(
        rotel_to_receiver.http_endpoint + "/v1/traces", content=body, headers=PROTOBUF
    )
    assert resp.status_code == 200
    _check_forwarded(receiver.wait_for_spans(2, timeout=10))
    forwarded = receiver.requests[0]
    assert forwarded.path == "/v1/traces"
    assert forwarded.content_type == "application/x-protobuf"
    assert forwarded.headers.get("content-encoding") == "gzip"


@pytest.mark.collector
def test_rotel_forwards_json(receiver: OtlpReceiver, rotel_to_receiver: Rotel) -> None:
    """rotel accepts OTLP/JSON and forwards its spans to the receiver."""
    body = export_request_to_otlp_json(_export_request())
    resp = httpx.post(rotel_to_receiver.http_endpoint + "/v1/traces", content=body, headers=JSON)
    assert resp.status_code == 200
    _check_forwarded(receiver.wait_for_spans(2, timeout=10))


@pytest.mark.collector
def test_rotel_retries_after_503(receiver: OtlpReceiver, rotel_to_receiver: Rotel) -> None:
    """rotel retries its export after the backend answers 503, so the spans arrive on the second
    request."""
    receiver.enqueue(503)
    body = _export_request().SerializeToString()
    resp = httpx.post(
        rotel_to_receiver.http_endpoint + "/v1/traces", content=body, headers=PROTOBUF
    )
    assert resp.status_code == 200  # rotel accepted; its export is what fails
    _check_forwarded(receiver.wait_for_spans(2, timeout=10))
    assert [r.status for r in receiver.requests] == [503, 200]


@pytest.mark.collector
def test_rotel_stop_ends_process(receiver: OtlpReceiver) -> None:
    """``Rotel.stop`` ends the process cleanly on SIGTERM, is idempotent, keeps its logs and frees
    its ports."""
    rotel = Rotel(receiver.url, binary=rotel_binary_or_skip()).start()
    pid = rotel.pid
    os.kill(pid, 0)  # alive
    assert rotel.returncode is None
    assert rotel.http_port != rotel.grpc_port
    with socket.create_connection(("127.0.0.1", rotel.grpc_port), 1):
        pass
    assert rotel.stop() == 0  # clean exit on SIGTERM
    assert not rotel.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "Starting Rotel" in rotel.logs()  # logs survive the temp dir
    assert rotel.stop() == 0  # idempotent
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", rotel.http_port), 1),
    ):
        pass


@pytest.mark.collector
def test_rotel_alternative_exporter_args(receiver: OtlpReceiver) -> None:
    """Datadog exporter pointed at the receiver: raw requests are recorded."""
    args = [
        "--exporter",
        "datadog",
        "--datadog-exporter-api-key",
        "test-key",
        "--datadog-exporter-custom-endpoint",
        receiver.url,
    ]
    with Rotel(exporter_args=args, binary=rotel_binary_or_skip()) as rotel:
        resp = httpx.post(
            rotel.http_endpoint + "/v1/traces",
            content=_export_request().SerializeToString(),
            headers=PROTOBUF,
        )
        assert resp.status_code == 200
        (req,) = receiver.wait_for_requests(1, timeout=10)
    assert req.path == "/api/v0.2/traces"
    assert req.headers["dd-api-key"] == "test-key"
    assert req.payload
    assert receiver.spans() == []  # not OTLP, so not decoded


@pytest.mark.collector
def test_rotel_blackhole_exporter() -> None:
    """rotel started with the blackhole exporter accepts traces."""
    with Rotel(exporter_args=["--exporter", "blackhole"], binary=rotel_binary_or_skip()) as rotel:
        resp = httpx.post(
            rotel.http_endpoint + "/v1/traces",
            content=_export_request().SerializeToString(),
            headers=PROTOBUF,
        )
        assert resp.status_code == 200


@pytest.mark.collector
def test_rotel_start_failure_reports_log() -> None:
    """A rotel that exits at start raises RotelError carrying its log line and leaves no process
    behind."""
    rotel = Rotel(
        exporter_args=["--exporter", "datadog"],  # no API key
        binary=rotel_binary_or_skip(),
    )
    try:
        with pytest.raises(RotelError, match="Datadog exporter API key"):
            rotel.start()
    finally:
        rotel.stop()
    assert not rotel.running
    assert rotel.returncode == 1


@pytest.mark.collector
def test_rotel_retries_start_on_port_clash(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When rotel's port is taken the harness starts it again on fresh ports, and it then forwards
    spans."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        busy_port: int = busy.getsockname()[1]
        real_free_port = collector.free_port
        ports = iter([busy_port])

        def first_busy() -> int:
            return next(ports, None) or real_free_port()

        monkeypatch.setattr(collector, "free_port", first_busy)
        # A connect to busy_port succeeds (it listens), but rotel exits with
        # "Address already in use" and the harness retries on new ports.
        with Rotel(receiver.url, binary=rotel_binary_or_skip()) as rotel:
            assert busy_port not in (rotel.http_port, rotel.grpc_port)
            assert "Address already in use" in rotel.logs()
            resp = httpx.post(
                rotel.http_endpoint + "/v1/traces",
                content=_export_request().SerializeToString(),
                headers=PROTOBUF,
            )
            assert resp.status_code == 200
            receiver.wait_for_spans(2, timeout=10)


def test_rotel_requires_exactly_one_exporter() -> None:
    """The harness refuses a Rotel with no exporter or with two."""
    with pytest.raises(ValueError, match="exactly one"):
        Rotel()
    with pytest.raises(ValueError, match="exactly one"):
        Rotel("http://127.0.0.1:1", exporter_args=["--exporter", "blackhole"])


def test_missing_rotel_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the rotel package the collector tests skip locally but fail under ``CI``, with the
    install command."""
    real_find_spec = importlib.util.find_spec

    def no_rotel(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "rotel" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", no_rotel)
    with pytest.raises(collector.RotelNotInstalledError, match="pip install --pre rotel"):
        collector.find_rotel_binary()
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        rotel_binary_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        rotel_binary_or_skip()
