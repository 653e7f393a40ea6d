"""Encode finished spans as an OTLP/JSON ``ExportTraceServiceRequest``, in the CLI process.

Written by hand instead of going through protobuf so the CLI never imports protobuf:
the exporter child converts to protobuf when the destination wants it. The mapping
follows the OTLP/JSON rules: lowerCamelCase keys, trace and span ids as hex, enums as
integers, 64-bit integers as decimal strings.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from opentelemetry.sdk.trace import ReadableSpan

    JsonObject = dict[str, Any]

# opentelemetry-python's SpanKind starts at INTERNAL = 0; OTLP reserves 0 for UNSPECIFIED.
_KIND_OFFSET = 1


_INF = float("inf")
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class Unencodable(ValueError):
    """A value OTLP cannot carry (an integer outside int64, a non-finite double on a JSON
    wire, a type the SDK let through): the attribute holding it is dropped, and counted."""


def any_value(value: object, *, finite_only: bool = False) -> "JsonObject":
    """One OTLP ``AnyValue``; raises Unencodable for what the protobuf conversion (or, with
    ``finite_only``, an OTLP/JSON receiver) would reject."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise Unencodable("integer outside int64")
        return {"intValue": str(value)}
    if isinstance(value, float):
        if value != value or value in (_INF, -_INF):  # NaN, infinities (no math import)
            if finite_only:
                raise Unencodable("non-finite double")
            # JSON has no NaN or Infinity; the proto3 JSON mapping spells them as strings.
            return {
                "doubleValue": "NaN"
                if value != value
                else ("Infinity" if value > 0 else "-Infinity")
            }
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        import base64

        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        values, dropped = _key_values(value, finite_only)
        if dropped:
            raise Unencodable("unencodable value in a map")
        return {"kvlistValue": {"values": values}}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v, finite_only=finite_only) for v in value]}}
    raise Unencodable(f"unsupported type {type(value).__name__}")


def _key_values(
    attributes: "Mapping[str, object] | None", finite_only: bool
) -> "tuple[list[JsonObject], int]":
    out: list[JsonObject] = []
    dropped = 0
    for key, value in (attributes or {}).items():
        try:
            out.append({"key": str(key), "value": any_value(value, finite_only=finite_only)})
        except Unencodable:
            dropped += 1
    return out, dropped


def key_values(attributes: "Mapping[str, object] | None") -> "list[JsonObject]":
    """Attributes as OTLP ``KeyValue`` objects, dropping what cannot be encoded."""
    return _key_values(attributes, False)[0]


class Encoder:
    """Turns finished spans into one OTLP/JSON request, dropping (and counting in
    ``dropped_values``) every attribute value the wire could not carry, so one bad value
    never costs more than itself."""

    def __init__(self, *, finite_only: bool = False, name_length: "int | None" = None) -> None:
        self.finite_only = finite_only
        #: Span names are cut like attribute values (``OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT``).
        self.name_length = name_length
        self.dropped_values = 0

    def attributes(self, values: "Mapping[str, object] | None") -> "tuple[list[JsonObject], int]":
        encoded, dropped = _key_values(values, self.finite_only)
        self.dropped_values += dropped
        return encoded, dropped

    def span(self, span: "ReadableSpan") -> "JsonObject":
        ctx = span.context
        assert ctx is not None  # every SDK span has one
        attrs, bad = self.attributes(span.attributes)
        out: JsonObject = {
            "traceId": f"{ctx.trace_id:032x}",
            "spanId": f"{ctx.span_id:016x}",
            "name": span.name if self.name_length is None else span.name[: self.name_length],
            "kind": int(span.kind.value) + _KIND_OFFSET,
            "startTimeUnixNano": str(span.start_time or 0),
            "endTimeUnixNano": str(span.end_time or 0),
            "attributes": attrs,
            "flags": 0x100
            | int(ctx.trace_flags)
            | (0x200 if span.parent and span.parent.is_remote else 0),
        }
        if span.parent is not None:
            out["parentSpanId"] = f"{span.parent.span_id:016x}"
        if ctx.trace_state:
            # A W3C header string on light spans, a TraceState on SDK spans.
            state = ctx.trace_state
            out["traceState"] = state if isinstance(state, str) else state.to_header()
        if span.dropped_attributes or bad:
            out["droppedAttributesCount"] = span.dropped_attributes + bad
        dropped_events = getattr(span, "dropped_events", 0)
        if dropped_events:
            out["droppedEventsCount"] = dropped_events
        dropped_links = getattr(span, "dropped_links", 0)
        if dropped_links:
            out["droppedLinksCount"] = dropped_links
        if span.events:
            out["events"] = [self._event(e) for e in span.events]
        if span.links:
            out["links"] = [self._link(link) for link in span.links]
        status: JsonObject = {}
        if span.status.status_code.value:
            status["code"] = int(span.status.status_code.value)
        if span.status.description:
            status["message"] = span.status.description
        out["status"] = status
        return out

    def _event(self, event: "Any") -> "JsonObject":
        attrs, bad = self.attributes(event.attributes)
        out: JsonObject = {"timeUnixNano": str(event.timestamp), "name": event.name}
        out["attributes"] = attrs
        dropped = (getattr(event, "dropped_attributes", 0) or 0) + bad
        if dropped:
            out["droppedAttributesCount"] = dropped
        return out

    def _link(self, link: "Any") -> "JsonObject":
        attrs, bad = self.attributes(link.attributes)
        ctx = link.context
        out: JsonObject = {
            "traceId": f"{ctx.trace_id:032x}",
            "spanId": f"{ctx.span_id:016x}",
            "attributes": attrs,
            # As on spans: "has is_remote" and "is remote" bits, and the W3C trace flags in
            # bits 0-7 (the proto comment asks for them; the Python SDK leaves them out).
            "flags": 0x100 | (int(ctx.trace_flags) & 0xFF) | (0x200 if ctx.is_remote else 0),
        }
        if ctx.trace_state:
            state = ctx.trace_state
            out["traceState"] = state if isinstance(state, str) else state.to_header()
        dropped = (getattr(link, "dropped_attributes", 0) or 0) + bad
        if dropped:
            out["droppedAttributesCount"] = dropped
        return out

    def encode(self, spans: "Sequence[ReadableSpan]") -> "JsonObject":
        """Group spans by resource and scope into one request."""
        by_resource: dict[object, tuple[Any, dict[object, tuple[Any, list[JsonObject]]]]] = {}
        for span in spans:
            # Light and SDK spans of one process carry equal resources in different objects.
            resource = span.resource
            key = (_attributes_key(resource), getattr(resource, "schema_url", "") or "")
            _, scopes = by_resource.setdefault(key, (resource, {}))
            scope = span.instrumentation_scope
            scope_key = (
                (scope.name, scope.version or "", getattr(scope, "schema_url", "") or "")
                if scope
                else ("", "", ""),
                _attributes_key(scope),
            )
            scopes.setdefault(scope_key, (scope, []))[1].append(self.span(span))
        resource_spans = []
        for resource, scopes in by_resource.values():
            attrs, dropped = self.attributes(resource.attributes if resource else None)
            encoded_resource: JsonObject = {"attributes": attrs}
            if dropped:
                encoded_resource["droppedAttributesCount"] = dropped
            entry: JsonObject = {
                "resource": encoded_resource,
                "scopeSpans": [
                    self._scope_spans(scope, encoded) for scope, encoded in scopes.values()
                ],
            }
            schema_url = getattr(resource, "schema_url", None)
            if schema_url:
                entry["schemaUrl"] = schema_url
            resource_spans.append(entry)
        return {"resourceSpans": resource_spans}

    def _scope_spans(self, scope: "Any", spans: "list[JsonObject]") -> "JsonObject":
        encoded: JsonObject = {
            "name": scope.name if scope else "",
            "version": (scope.version or "") if scope else "",
        }
        attrs, dropped = self.attributes(getattr(scope, "attributes", None))
        if attrs:
            encoded["attributes"] = attrs
        if dropped:
            encoded["droppedAttributesCount"] = dropped
        out: JsonObject = {"scope": encoded, "spans": spans}
        schema_url = getattr(scope, "schema_url", None)
        if schema_url:
            out["schemaUrl"] = schema_url
        return out


def _attributes_key(holder: "Any") -> object:
    attrs = getattr(holder, "attributes", None) or {}
    try:
        return tuple(sorted((str(k), repr(v)) for k, v in attrs.items()))
    except (TypeError, AttributeError):
        return id(holder)


def encode(spans: "Sequence[ReadableSpan]", *, finite_only: bool = False) -> "JsonObject":
    """Group spans by resource and scope into one request (unencodable values dropped)."""
    return Encoder(finite_only=finite_only).encode(spans)
