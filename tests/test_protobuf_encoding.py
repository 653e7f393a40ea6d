"""The exporter's hand-written OTLP protobuf encoder (``sinks._protobuf``) writes the very
bytes the protobuf runtime writes (``json_format.ParseDict`` + ``SerializeToString``), and
refuses what it refuses (issue 21: the runtime costs a child ~140 M instructions)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cli_telemetry._exporter.sinks._protobuf import encode_request

_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _base64_ids(node: Any) -> Any:
    """OTLP/JSON spells ids in hex; protobuf's JSON parser wants base64."""
    if isinstance(node, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k in _ID_FIELDS and isinstance(v, str)
            else _base64_ids(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_base64_ids(v) for v in node]
    return node


def reference(request: dict[str, Any]) -> bytes:
    """The protobuf runtime's bytes for an OTLP/JSON request."""
    message = ExportTraceServiceRequest()
    json_format.ParseDict(_base64_ids(request), message, ignore_unknown_fields=True)
    return bytes(message.SerializeToString())


hex_id = (
    st.sampled_from([8, 16]).flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(bytes.hex)
)
text = st.text(max_size=8)
int64 = st.integers(-(2**63), 2**63 - 1)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)


def any_values() -> st.SearchStrategy[dict[str, Any]]:
    scalars = st.one_of(
        st.builds(lambda v: {"stringValue": v}, text),
        st.builds(lambda v: {"boolValue": v}, st.booleans()),
        st.builds(lambda v: {"intValue": v}, st.one_of(int64, int64.map(str))),
        st.builds(
            lambda v: {"doubleValue": v},
            st.one_of(
                st.floats(allow_nan=False, allow_infinity=False),
                st.sampled_from(["NaN", "Infinity", "-Infinity"]),
            ),
        ),
        st.builds(lambda v: {"bytesValue": base64.b64encode(v).decode()}, st.binary(max_size=6)),
        st.just({}),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=3)),
            st.builds(
                lambda kvs: {"kvlistValue": {"values": kvs}},
                st.lists(st.builds(lambda k, v: {"key": k, "value": v}, text, inner), max_size=3),
            ),
        ),
        max_leaves=6,
    )


attributes = st.lists(
    st.fixed_dictionaries({"key": text}, optional={"value": any_values()}), max_size=3
)
counts = st.fixed_dictionaries({}, optional={"droppedAttributesCount": u32})
events = st.lists(
    st.fixed_dictionaries(
        {"name": text},
        optional={
            "timeUnixNano": u64.map(str),
            "attributes": attributes,
            "droppedAttributesCount": u32,
        },
    ),
    max_size=2,
)
links = st.lists(
    st.fixed_dictionaries(
        {"traceId": hex_id, "spanId": hex_id},
        optional={
            "traceState": text,
            "attributes": attributes,
            "flags": u32,
            "droppedAttributesCount": u32,
        },
    ),
    max_size=2,
)
spans = st.fixed_dictionaries(
    {"traceId": hex_id, "spanId": hex_id, "name": text},
    optional={
        "parentSpanId": st.one_of(hex_id, st.just("")),
        "traceState": text,
        "kind": st.one_of(st.integers(0, 5), st.sampled_from(["SPAN_KIND_SERVER"])),
        "startTimeUnixNano": st.one_of(u64.map(str), u64),
        "endTimeUnixNano": u64.map(str),
        "attributes": attributes,
        "droppedAttributesCount": u32,
        "events": events,
        "droppedEventsCount": u32,
        "links": links,
        "droppedLinksCount": u32,
        "status": st.fixed_dictionaries({}, optional={"code": st.integers(0, 2), "message": text}),
        "flags": u32,
        "unknownField": text,
    },
)
requests = st.builds(
    lambda rs: {"resourceSpans": rs},
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "resource": st.fixed_dictionaries({}, optional={"attributes": attributes}),
                "schemaUrl": text,
                "scopeSpans": st.lists(
                    st.fixed_dictionaries(
                        {"spans": st.lists(spans, max_size=2)},
                        optional={
                            "scope": st.fixed_dictionaries(
                                {},
                                optional={"name": text, "version": text, "attributes": attributes},
                            ),
                            "schemaUrl": text,
                        },
                    ),
                    max_size=2,
                ),
            },
        ),
        max_size=2,
    ),
)


@settings(max_examples=300, deadline=None)
@given(requests)
def test_the_bytes_are_the_protobuf_runtimes(request: dict[str, Any]) -> None:
    """Any well-formed OTLP/JSON trace request encodes to the runtime's exact bytes."""
    assert encode_request(request) == reference(request)


def test_a_command_span_request_round_trips() -> None:
    """A typical spooled request decodes back, with the runtime, to the same message."""
    request = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "otel_cli_telemetry", "version": "1"},
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "assembly run",
                                "kind": 1,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000100000000",
                                "attributes": [
                                    {"key": "process.exit.code", "value": {"intValue": "0"}},
                                    {"key": "n", "value": {"intValue": "-1"}},
                                ],
                                "status": {},
                                "flags": 256,
                            }
                        ],
                    }
                ],
            }
        ]
    }
    ours = encode_request(request)
    assert ours == reference(request)
    decoded = ExportTraceServiceRequest.FromString(ours)
    span = decoded.resource_spans[0].scope_spans[0].spans[0]
    assert (span.name, span.flags, span.attributes[1].value.int_value) == ("assembly run", 256, -1)


@pytest.mark.parametrize(
    "span",
    [
        {"kind": "SPAN_KIND_NOPE"},
        {"kind": "7"},
        {"kind": -1},
        {"startTimeUnixNano": 1.0},
        {"status": {"code": "STATUS_CODE_ERROR", "message": "m"}},
        {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"},
        {"attributes": [{"key": "b", "value": {"bytesValue": "-_8"}}]},
        {"attributes": [{"key": "b", "value": {"doubleValue": -0.0}}]},
        {"attributes": [{"key": "b", "value": {"doubleValue": "1.5"}}]},
    ],
)
def test_the_runtimes_lenient_readings_are_kept(span: dict[str, Any]) -> None:
    """What the runtime accepts beyond the usual spelling (enum names and numbers, proto
    names, url-safe base64, numbers in strings) gives its bytes too."""
    request = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    assert encode_request(request) == reference(request)


@pytest.mark.parametrize(
    "span",
    [
        {"name": 5},
        {"name": "\ud800"},
        {"startTimeUnixNano": "-1"},
        {"startTimeUnixNano": str(2**64)},
        {"droppedAttributesCount": -1},
        {"flags": 2**32},
        {"attributes": {"key": "x"}},
        {"attributes": [None]},
        {"attributes": [{"key": "x", "value": {"stringValue": "a", "intValue": "1"}}]},
        {"attributes": [{"key": "x", "value": {"intValue": str(2**63)}}]},
        {"attributes": [{"key": "x", "value": {"intValue": 1.5}}]},
        {"attributes": [{"key": "x", "value": {"intValue": True}}]},
        {"attributes": [{"key": "x", "value": {"boolValue": 1}}]},
        {"attributes": [{"key": "x", "value": {"boolValue": "true"}}]},
        {"attributes": [{"key": "x", "value": {"doubleValue": "many"}}]},
        {"status": [1]},
        {"traceId": "zz"},
    ],
)
def test_what_the_runtime_refuses_is_refused(span: dict[str, Any]) -> None:
    """A value the runtime's ParseDict refuses makes the encoder raise too (the sink then
    sets that one spooled request aside)."""
    request = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    with pytest.raises(Exception):  # noqa: B017, PT011 - ParseError, ValueError or TypeError
        reference(request)
    with pytest.raises((ValueError, TypeError)):
        encode_request(request)
