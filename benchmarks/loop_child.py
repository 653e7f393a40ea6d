"""The per-command child of ``loop_cli.py``'s ``per_command_child`` mode: one process per command.

    python loop_child.py '<json record of one command>'

A model of the anchors' design (azure-cli, next.js): the CLI starts this detached after each
command and does not wait. It imports an HTTP client (httpx), the OpenTelemetry SDK and the
OTLP exporter package, turns the record into one SDK span, encodes it as OTLP protobuf and
POSTs it to ``$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces``, once, then exits. No spool, no retry,
no coordination with the other children.

``BENCH_CHILD_SENDER=otlp-exporter`` sends with the SDK's own ``OTLPSpanExporter`` (through
a ``SimpleSpanProcessor``, as an author would wire it) instead of httpx.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

TIMEOUT_S = 10.0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        return 2
    record: dict[str, Any] = json.loads(argv[0])
    sender = os.environ.get("BENCH_CHILD_SENDER", "httpx")
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    endpoint = base.rstrip("/") + "/v1/traces"

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Status, StatusCode

    resource = Resource.create(
        {"service.name": record["service"], "service.version": record["version"]}
    )
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    if sender == "otlp-exporter":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        exporter = OTLPSpanExporter(endpoint=endpoint, timeout=TIMEOUT_S)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("benchloop.per_command_child")
    span = tracer.start_span(
        record["name"], start_time=record["start_ns"], attributes=record["attributes"]
    )
    code = record["attributes"].get("process.exit.code", 0)
    if code:
        span.set_status(Status(StatusCode.ERROR, record["attributes"]["cli_telemetry.outcome"]))
    span.end(end_time=record["end_ns"])  # with otlp-exporter: exported here, synchronously
    if sender == "otlp-exporter":
        provider.shutdown()
        return 0

    import httpx
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    body = encode_spans([span]).SerializeToString()
    with httpx.Client(timeout=TIMEOUT_S) as client:
        response = client.post(
            endpoint, content=body, headers={"Content-Type": "application/x-protobuf"}
        )
    return 0 if response.is_success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
