"""Encode finished spans as an OTLP/JSON ``ExportTraceServiceRequest``, in the CLI process.

Written by hand instead of going through protobuf so the CLI never imports protobuf:
the exporter child converts to protobuf when the destination wants it. The mapping
follows the OTLP/JSON rules: lowerCamelCase keys, trace and span ids as hex, enums as
integers, 64-bit integers as decimal strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

JsonObject = dict[str, Any]

# opentelemetry-python's SpanKind starts at INTERNAL = 0; OTLP reserves 0 for UNSPECIFIED.
_KIND_OFFSET = 1


def any_value(value: object) -> JsonObject:
    """One OTLP ``AnyValue``."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            # JSON has no NaN or Infinity; the proto3 JSON mapping spells them as strings.
            return {
                "doubleValue": "NaN"
                if math.isnan(value)
                else ("Infinity" if value > 0 else "-Infinity")
            }
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        import base64

        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value)}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def key_values(attributes: Mapping[str, object] | None) -> list[JsonObject]:
    if not attributes:
        return []
    return [{"key": str(k), "value": any_value(v)} for k, v in attributes.items()]


def _span(span: ReadableSpan) -> JsonObject:
    ctx = span.context
    assert ctx is not None  # every SDK span has one
    out: JsonObject = {
        "traceId": f"{ctx.trace_id:032x}",
        "spanId": f"{ctx.span_id:016x}",
        "name": span.name,
        "kind": int(span.kind.value) + _KIND_OFFSET,
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or 0),
        "attributes": key_values(span.attributes),
        "flags": 0x100
        | int(ctx.trace_flags)
        | (0x200 if span.parent and span.parent.is_remote else 0),
    }
    if span.parent is not None:
        out["parentSpanId"] = f"{span.parent.span_id:016x}"
    if ctx.trace_state:
        out["traceState"] = ctx.trace_state.to_header()
    if span.dropped_attributes:
        out["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        out["events"] = [
            {
                "timeUnixNano": str(e.timestamp),
                "name": e.name,
                "attributes": key_values(e.attributes),
            }
            for e in span.events
        ]
    if span.links:
        out["links"] = [
            {
                "traceId": f"{link.context.trace_id:032x}",
                "spanId": f"{link.context.span_id:016x}",
                "attributes": key_values(link.attributes),
            }
            for link in span.links
        ]
    status: JsonObject = {}
    if span.status.status_code.value:
        status["code"] = int(span.status.status_code.value)
    if span.status.description:
        status["message"] = span.status.description
    out["status"] = status
    return out


def encode(spans: Sequence[ReadableSpan]) -> JsonObject:
    """Group spans by resource and scope into one request."""
    by_resource: dict[int, tuple[Any, dict[tuple[str, str], list[JsonObject]]]] = {}
    for span in spans:
        resource_key = id(span.resource)
        _, scopes = by_resource.setdefault(resource_key, (span.resource, {}))
        scope = span.instrumentation_scope
        scope_key = (scope.name if scope else "", (scope.version or "") if scope else "")
        scopes.setdefault(scope_key, []).append(_span(span))
    resource_spans = []
    for resource, scopes in by_resource.values():
        resource_spans.append(
            {
                "resource": {"attributes": key_values(resource.attributes if resource else None)},
                "scopeSpans": [
                    {"scope": {"name": name, "version": version}, "spans": encoded}
                    for (name, version), encoded in scopes.items()
                ],
            }
        )
    return {"resourceSpans": resource_spans}
