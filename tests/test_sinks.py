"""The sinks' one contract: what an answer means (retry, refuse, split), decided in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_cli_telemetry._disk import destination, state
from otel_cli_telemetry._exporter import sinks
from otel_cli_telemetry._exporter.drain import make_sink
from otel_cli_telemetry._exporter.sinks import ExportResult, Result
from otel_cli_telemetry._exporter.sinks.datadog import DatadogLogsSink
from otel_cli_telemetry._exporter.sinks.file import FileSink
from otel_cli_telemetry._exporter.sinks.otlp import OtlpHttpSink
from otel_cli_telemetry._exporter.sinks.posthog import PostHogSink
from tests.test_poison import request_for


def test_the_result_has_opentelemetrys_shape_plus_retry() -> None:
    """SUCCESS and FAILURE as in ``SpanExportResult``; RETRY keeps the batch for later."""
    assert [member.name for member in ExportResult] == ["SUCCESS", "FAILURE", "RETRY"]
    assert Result.success(rejected_spans=2) == Result(ExportResult.SUCCESS, rejected_spans=2)
    assert Result.retry("timeout", retry_after_s=1.5).retry_after_s == 1.5
    refused = Result.failure("unencodable", unencodable=(1,))
    assert (refused.status, refused.unencodable, refused.split) == (
        ExportResult.FAILURE,
        (1,),
        False,
    )
    # each constructor makes only the answers that status can mean
    assert (Result.success().retry_after_s, Result.success().split) == (None, False)
    assert (Result.retry("timeout").split, Result.retry("timeout").unencodable) == (False, ())
    assert Result.failure("http_400", split=True).retry_after_s is None
    with pytest.raises(AttributeError):
        refused.reason = "other"  # type: ignore[misc]


SINK_DESTINATIONS = {
    "otlp-http": {"kind": "otlp", "protocol": "http/protobuf"},
    "otlp-json": {"kind": "otlp", "protocol": "http/json"},
    "otlp-grpc": {"kind": "otlp", "protocol": "grpc"},
    "datadog": {"kind": "datadog", "token": "pub" + "0a" * 16},
    "posthog": {"kind": "posthog", "token": "phc_" + "a1B2" * 8},
}


@pytest.mark.parametrize("name", SINK_DESTINATIONS)
def test_every_network_sink_answers_retry_when_nobody_listens(
    tmp_path: Path, dead_url: str, name: str
) -> None:
    """Each network sink the drain builds turns a refused connection into a RETRY result
    (never an exception), keeps batches within the drain's bound, and shuts down twice."""
    dest = destination.Destination(endpoint=dead_url + "/v1/traces", **SINK_DESTINATIONS[name])
    if dest.protocol == "grpc":
        dest.endpoint = dead_url
    sink = make_sink(dest, state.Paths(home=tmp_path, config_dir=tmp_path))
    assert 0 < sink.max_batch_traces <= sinks.MAX_BATCH_TRACES
    try:
        result = sink.export([request_for("refused")], timeout_s=5.0)
    finally:
        sink.shutdown()
    sink.shutdown()
    assert result.status is ExportResult.RETRY, result
    assert result.reason


def test_the_file_sink_accepts_a_batch_and_keeps_its_spans(tmp_path: Path) -> None:
    """The local file sink answers SUCCESS and the span is in its file afterwards."""
    paths = state.Paths(home=tmp_path, config_dir=tmp_path)
    sink = make_sink(destination.Destination(kind=destination.FILE), paths)
    assert isinstance(sink, FileSink)
    result = sink.export([request_for("kept-locally")], timeout_s=5.0)
    sink.shutdown()
    assert result.status is ExportResult.SUCCESS
    assert "kept-locally" in Path(paths.sink_file).read_text()


def test_the_http_sinks_take_their_retry_set_from_the_one_place() -> None:
    """Each HTTP sink uses the shared retry set of its protocol, not a copy."""
    assert OtlpHttpSink.retryable is sinks.OTLP_HTTP_RETRYABLE
    assert DatadogLogsSink.retryable is sinks.INTAKE_RETRYABLE
    assert PostHogSink.retryable is sinks.INTAKE_RETRYABLE


@pytest.mark.parametrize(
    ("status", "otlp", "intake"),
    [
        (429, ExportResult.RETRY, ExportResult.RETRY),
        (502, ExportResult.RETRY, ExportResult.RETRY),
        (503, ExportResult.RETRY, ExportResult.RETRY),
        (504, ExportResult.RETRY, ExportResult.RETRY),
        (408, ExportResult.FAILURE, ExportResult.RETRY),
        (500, ExportResult.FAILURE, ExportResult.RETRY),
        (599, ExportResult.FAILURE, ExportResult.RETRY),
        (400, ExportResult.FAILURE, ExportResult.FAILURE),
        (401, ExportResult.FAILURE, ExportResult.FAILURE),
        (404, ExportResult.FAILURE, ExportResult.FAILURE),
        (413, ExportResult.FAILURE, ExportResult.FAILURE),
    ],
)
def test_http_statuses(status: int, otlp: ExportResult, intake: ExportResult) -> None:
    """OTLP/HTTP retries 429, 502, 503, 504 only; the Datadog and PostHog intakes also 408
    and every 5xx. The server's Retry-After travels with a retry."""
    for retryable, expected in (
        (sinks.OTLP_HTTP_RETRYABLE, otlp),
        (sinks.INTAKE_RETRYABLE, intake),
    ):
        result = sinks.http_result(status, 2.0, retryable)
        assert (result.status, result.reason) == (expected, f"http_{status}")
        assert result.retry_after_s == (2.0 if expected is ExportResult.RETRY else None)


@pytest.mark.parametrize(
    ("status", "split"), [(400, True), (413, True), (401, False), (404, False)]
)
def test_refusals_that_one_trace_may_cause_split_the_batch(status: int, split: bool) -> None:
    """400 and 413 ask the drain to split the batch; 401 and 404 do not."""
    assert sinks.http_result(status, None, sinks.OTLP_HTTP_RETRYABLE).split is split


@pytest.mark.parametrize(
    ("code", "delay", "status"),
    [
        *((code, None, ExportResult.RETRY) for code in sorted(sinks.GRPC_RETRYABLE)),
        ("UNAVAILABLE", 3.0, ExportResult.RETRY),
        ("RESOURCE_EXHAUSTED", 2.5, ExportResult.RETRY),
        ("RESOURCE_EXHAUSTED", None, ExportResult.FAILURE),
        ("INVALID_ARGUMENT", None, ExportResult.FAILURE),
        ("PERMISSION_DENIED", 1.0, ExportResult.FAILURE),
        ("UNKNOWN", None, ExportResult.FAILURE),
    ],
)
def test_grpc_codes(code: str, delay: float | None, status: ExportResult) -> None:
    """The OTLP/gRPC retryable codes; RESOURCE_EXHAUSTED only with a RetryInfo delay."""
    result = sinks.grpc_result(code, delay)
    assert (result.status, result.reason) == (status, f"grpc_{code.lower()}")
    assert result.retry_after_s == (delay if status is ExportResult.RETRY else None)
    assert result.split is (code == "INVALID_ARGUMENT")


def test_the_retry_sets_are_the_specifications() -> None:
    """DESIGN.md section 4, as the OTLP exporter specification lists them."""
    assert sorted(sinks.GRPC_RETRYABLE) == [
        "ABORTED",
        "CANCELLED",
        "DATA_LOSS",
        "DEADLINE_EXCEEDED",
        "OUT_OF_RANGE",
        "UNAVAILABLE",
    ]
    assert sorted(sinks.GRPC_RETRYABLE_WITH_RETRY_INFO) == ["RESOURCE_EXHAUSTED"]
    assert sorted(sinks.OTLP_HTTP_RETRYABLE) == [429, 502, 503, 504]
