"""Our hand-written OTLP/JSON encoder agrees with the SDK's protobuf encoder."""

from __future__ import annotations

import base64
import json

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_cli_telemetry._disk import otlp_json, spool
from otel_cli_telemetry._exporter.sinks.otlp import to_protobuf


def _spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "assembly", "n": 3}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("scope", "9.9")
    with tracer.start_as_current_span("root", kind=SpanKind.INTERNAL) as root:
        root.set_attributes(
            {"s": "text", "b": True, "i": 2**40, "f": 0.5, "list": ["a", "b"], "ints": [1, 2]}
        )
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.add_event("evt", {"k": "v"})
            child.set_status(Status(StatusCode.ERROR, "bad"))
    provider.shutdown()
    return list(exporter.get_finished_spans())


def _normalise(message_dict: dict[str, object]) -> dict[str, object]:
    """Compare field by field, ignoring the span flags (we also carry the trace flags)."""
    text = json.dumps(message_dict, sort_keys=True)
    data = json.loads(text)
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                span.pop("flags", None)
    return data  # type: ignore[no-any-return]


def test_matches_sdk_protobuf_encoding() -> None:
    """Converted to protobuf, our JSON equals what the SDK's OTLP encoder produces."""
    spans = _spans()
    ours = to_protobuf(otlp_json.encode(spans))
    theirs = encode_spans(spans)

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    parsed = ExportTraceServiceRequest()
    parsed.ParseFromString(ours)
    assert _normalise(json_format.MessageToDict(parsed)) == _normalise(
        json_format.MessageToDict(theirs)
    )


def test_json_uses_hex_ids_integer_enums_and_string_int64() -> None:
    """The OTLP/JSON rules that differ from protobuf's default JSON mapping."""
    request = otlp_json.encode(_spans())
    span = request["resourceSpans"][0]["scopeSpans"][0]["spans"][-1]
    assert span["name"] == "root"
    assert len(span["traceId"]) == 32
    int(span["traceId"], 16)
    assert len(span["spanId"]) == 16
    assert span["kind"] == 1  # SPAN_KIND_INTERNAL
    assert isinstance(span["startTimeUnixNano"], str)
    values = {kv["key"]: kv["value"] for kv in span["attributes"]}
    assert values["i"] == {"intValue": str(2**40)}
    assert values["b"] == {"boolValue": True}
    child = request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert child["parentSpanId"] == span["spanId"]
    assert child["status"] == {"code": 2, "message": "bad"}
    # The ids survive the protobuf round trip as the same bytes.
    assert base64.b16encode(bytes.fromhex(span["traceId"])).decode().lower() == span["traceId"]


def test_awkward_values_encode_to_valid_json() -> None:
    """NaN, infinities, bytes, nested mappings and lone surrogates never break encoding."""
    value = otlp_json.any_value(float("nan"))
    assert value == {"doubleValue": "NaN"}
    assert otlp_json.any_value(float("-inf")) == {"doubleValue": "-Infinity"}
    assert otlp_json.any_value(b"\x00\xff") == {"bytesValue": "AP8="}
    nested = otlp_json.any_value({"a": [1, 2]})
    assert nested["kvlistValue"]["values"][0]["key"] == "a"
    with pytest.raises(otlp_json.Unencodable):
        otlp_json.any_value({"a": [1, {"b": None}]})
    raw = spool.dumps({"resourceSpans": [{"x": "bad \udcff surrogate"}]})
    assert json.loads(raw)["resourceSpans"][0]["x"] == "bad ? surrogate"
    assert to_protobuf({"resourceSpans": []}) == b""
