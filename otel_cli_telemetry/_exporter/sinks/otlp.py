"""OTLP/HTTP sink (``http/protobuf`` or ``http/json``), used only in the exporter child.

Response handling follows the OTLP/HTTP specification (the statuses are in ``sinks``): any
2xx is success (a ``partialSuccess`` is recorded, never retried); 429, 502, 503, 504 and
connection errors are retryable, honouring ``Retry-After``; every other status drops the batch.
"""

from __future__ import annotations

from otel_cli_telemetry._disk import jsontext
from otel_cli_telemetry._exporter.sinks import INT64_MAX, Result, convert_each, saturated
from otel_cli_telemetry._exporter.sinks._http import HttpSink, tls_context, user_agent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from otel_cli_telemetry._disk.destination import Destination
    from otel_cli_telemetry._exporter.sinks._wire import Client, Response

__all__ = ["INT64_MAX", "OtlpHttpSink", "tls_context", "to_protobuf"]


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON spells ids in hex; protobuf's JSON parser expects base64 for bytes."""
    if isinstance(node, dict):
        import base64

        out = {}
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                out[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii") if value else ""
            else:
                out[key] = _hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


def to_protobuf(request: dict[str, Any]) -> bytes:
    """Serialise an OTLP/JSON request as the protobuf ``ExportTraceServiceRequest``."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    message = ExportTraceServiceRequest()
    json_format.ParseDict(_hex_ids_to_base64(request), message, ignore_unknown_fields=True)
    data: bytes = message.SerializeToString()
    return data


def rejected_spans(body: bytes, protocol: str) -> int:
    """The ``partialSuccess.rejectedSpans`` of a success body, validated: a count from 0 to
    INT64_MAX (its message is not kept: it is the server's words, and may quote the data).
    A body we cannot read, or a count that is not one, reads as 0: still a success."""
    if not body:
        return 0
    try:
        if protocol == "http/json":
            document = jsontext.loads(body)
            partial = document.get("partialSuccess") if isinstance(document, dict) else None
            value = partial.get("rejectedSpans", 0) if isinstance(partial, dict) else 0
            # int64 travels as a decimal string in OTLP/JSON; a number is accepted too.
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            return saturated(value)
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        message = ExportTraceServiceResponse()
        message.ParseFromString(body)
        return saturated(message.partial_success.rejected_spans)
    except Exception:  # noqa: BLE001 - a success body we cannot read is still a success
        return 0


class OtlpHttpSink(HttpSink):
    """Send batches to one OTLP/HTTP traces endpoint."""

    def __init__(self, destination: Destination, *, client: Client | None = None) -> None:
        assert destination.endpoint is not None
        super().__init__(destination, client=client)

    def encode(self, parts: list[bytes]) -> tuple[bytes, dict[str, str]]:
        """One request body for the batch, from each request's ``_encode_one``."""
        headers = dict(self.destination.headers)
        if self.destination.protocol == "http/json":
            # Each part is the "resourceSpans" list of one request, without its brackets.
            body = b'{"resourceSpans":[' + b",".join(p for p in parts if p) + b"]}"
            headers["content-type"] = "application/json"
        else:
            # Serialised protobuf messages concatenate into their merge: the repeated
            # resource_spans of every request, in order.
            body = b"".join(parts)
            headers["content-type"] = "application/x-protobuf"
        if self.destination.compression == "gzip":
            import zlib  # gzip's framing, without the gzip module's imports

            packer = zlib.compressobj(6, zlib.DEFLATED, 31)
            body = packer.compress(body) + packer.flush()
            headers["content-encoding"] = "gzip"
        headers.setdefault("user-agent", user_agent())
        return body, headers

    def _encode_one(self, request: dict[str, Any]) -> bytes:
        if self.destination.protocol == "http/json":
            # json.dumps(..., separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            text = jsontext.dumps(request.get("resourceSpans") or [], ensure_ascii=False)
            return text.encode("utf-8", "replace")[1:-1]
        return to_protobuf(request)

    def export(self, requests: list[dict[str, Any]], *, timeout_s: float) -> Result:
        assert self.destination.endpoint is not None
        if self.destination.protocol != "http/json":
            # Imported before the loop: a broken installation is not bad data.
            from google.protobuf import json_format  # noqa: F401
            from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: F401
        parts, bad = convert_each(requests, lambda request: [self._encode_one(request)])
        if bad:
            # That spooled data cannot be encoded: retrying will not help; the rest can go.
            return Result.failure("unencodable", unencodable=bad)
        body, headers = self.encode(parts)
        failure, response = self.post(self.destination.endpoint, body, headers, timeout_s)
        if failure is not None:
            return failure
        assert response is not None
        return Result.success(rejected_spans=_read_rejected(response, self.destination.protocol))


def _read_rejected(response: Response, protocol: str) -> int:
    # A body cut at the cap is not parsed: half a message would read as a wrong count.
    return 0 if response.truncated else rejected_spans(response.body, protocol)
