"""The gRPC sink reads ``google.rpc.RetryInfo`` with ``googleapis-common-protos`` (the
``grpc`` extra declares it), not a hand-written protobuf decoder (issue 20)."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("grpc")
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from otel_cli_telemetry._exporter.sinks import grpc as grpc_sink


def details(*messages: object) -> bytes:
    """A serialised ``google.rpc.Status`` carrying ``messages`` as its details."""
    packed = []
    for message in messages:
        item = any_pb2.Any()
        item.Pack(message)
        packed.append(item)
    return bytes(status_pb2.Status(code=8, details=packed).SerializeToString())


def retry_info(seconds: int, nanos: int = 0) -> error_details_pb2.RetryInfo:
    return error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=seconds, nanos=nanos)
    )


def test_retry_info_after_another_detail_is_found() -> None:
    """The RetryInfo is read wherever it sits among the details, nanoseconds included."""
    found = grpc_sink.retry_delay(
        details(error_details_pb2.DebugInfo(detail="x"), retry_info(2, 500_000_000))
    )
    assert found == 2.5


def test_a_negative_delay_reads_as_no_wait() -> None:
    """A negative delay from a server is clamped to zero, never a negative sleep."""
    assert grpc_sink.retry_delay(details(retry_info(-5))) == 0.0


def test_no_module_without_the_extra_means_no_retry_info(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without googleapis-common-protos installed, a RetryInfo cannot be read: None."""
    monkeypatch.setitem(sys.modules, "google.rpc", None)
    assert grpc_sink.retry_delay(details(retry_info(3))) is None


def test_the_grpc_extra_declares_the_messages_it_reads() -> None:
    """pyproject's ``grpc`` extra names googleapis-common-protos beside grpcio."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    [line] = [line for line in text.splitlines() if line.startswith("grpc = [")]
    assert "googleapis-common-protos" in line
    assert "grpcio" in line
