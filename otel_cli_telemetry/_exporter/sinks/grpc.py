"""OTLP/gRPC sink (``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``), used only in the exporter child.

It needs the ``grpc`` extra (``grpcio``), imported on the first export and nowhere else: the
CLI process never imports grpc. Without it nothing is sent anywhere (never OTLP/HTTP to a
gRPC port): every export answers RETRY ``grpc_extra_missing`` with a long back-off, so the
spans wait in the spool until the extra is installed, and ``status`` says how.

Status handling follows the OTLP/gRPC specification (the codes are in ``sinks``): OK is
success (a partial success is recorded, never retried); CANCELLED, DEADLINE_EXCEEDED,
ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retryable, honouring a
``google.rpc.RetryInfo`` sent in the ``grpc-status-details-bin`` trailer; RESOURCE_EXHAUSTED
is retryable only with a RetryInfo (the server says it can recover); every other status
drops the batch.

One channel per exporter run: plaintext for an ``http://`` endpoint (or
``OTEL_EXPORTER_OTLP_INSECURE=true`` and no scheme), TLS otherwise, verified against the
system roots or ``OTEL_EXPORTER_OTLP_CERTIFICATE``, with an optional client certificate.
Headers travel as metadata; the body is the concatenation of each spooled request's
serialised ``ExportTraceServiceRequest`` (which protobuf reads as their merge).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_cli_telemetry._exporter.sinks import (
    MAX_BATCH_TRACES,
    Result,
    convert_each,
    grpc_result,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from otel_cli_telemetry._disk.destination import Destination

#: The reason of the RETRY answered when grpcio cannot be imported.
EXTRA_MISSING = "grpc_extra_missing"
#: What ``status`` prints, in one line, when OTLP/gRPC is configured without the extra.
INSTALL_HINT = (
    "OTLP/gRPC needs the grpc extra (spans wait in the spool): "
    "pip install 'otel-cli-telemetry[grpc]'"
)
#: The back-off after a run found the extra missing: installing it is a human's job.
EXTRA_MISSING_RETRY_S = 300.0
EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
#: Metadata gRPC itself owns: never sent from ``OTEL_EXPORTER_OTLP_HEADERS``.
_RESERVED = frozenset({"content-type", "te", "user-agent", "host", "connection", "grpc-timeout"})
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def status_lines(destination: str) -> list[str]:
    """For ``status``: the one-line install hint when a destination is OTLP/gRPC (as
    ``Destination.describe`` words it) and grpcio cannot be found. Cheap: a spec lookup,
    no import."""
    if "OTLP grpc to " not in destination:
        return []
    import importlib.util

    try:
        found = importlib.util.find_spec("grpc") is not None
    except (ImportError, ValueError):
        found = False
    return [] if found else [INSTALL_HINT]


def metadata(headers: dict[str, str]) -> list[tuple[str, str | bytes]]:
    """Headers as gRPC metadata: lower-case keys; a ``-bin`` key carries bytes. Entries
    gRPC would refuse (reserved names, characters outside its grammar) are left out, never
    echoed: they may be credentials."""
    result: list[tuple[str, str | bytes]] = []
    for raw_key, value in headers.items():
        key = raw_key.lower()
        if (
            not key
            or key in _RESERVED
            or key.startswith(("grpc-", ":"))
            or not set(key) <= _KEY_CHARS
        ):
            continue
        if key.endswith("-bin"):
            result.append((key, value.encode("utf-8")))
        elif all(" " <= c <= "~" for c in value):
            result.append((key, value))
    return result


def retry_delay(status_details: bytes) -> float | None:
    """The delay of the ``google.rpc.RetryInfo`` in a serialised ``google.rpc.Status``
    (its ``details``), in seconds, clamped to ``[0, MAX_RETRY_AFTER_S]``; None when there
    is none or it is unreadable. The messages come from ``googleapis-common-protos`` (in
    the ``grpc`` extra); without it there is no RetryInfo to honour."""
    try:
        from google.rpc import error_details_pb2, status_pb2
    except ImportError:
        return None
    try:
        status = status_pb2.Status.FromString(status_details)
        for detail in status.details:
            info = error_details_pb2.RetryInfo()
            if detail.type_url != RETRY_INFO_TYPE or not detail.Unpack(info):
                continue
            delay = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
            from otel_cli_telemetry._disk.delivery import MAX_RETRY_AFTER_S

            return float(min(max(delay, 0.0), MAX_RETRY_AFTER_S))
    except Exception:  # noqa: BLE001 - a malformed trailer (DecodeError) is no RetryInfo
        return None
    return None


def _trailer(call: Any, key: str) -> bytes | None:
    try:
        trailers = call.trailing_metadata() or ()
    except Exception:  # noqa: BLE001 - an error without trailers has no RetryInfo
        return None
    for item in trailers:
        name, value = item[0], item[1]
        if name == key and isinstance(value, bytes):
            return value
    return None


class OtlpGrpcSink:
    """Send batches to one OTLP/gRPC ``TraceService``. ``load_grpc`` is the test seam for
    an installation without the extra."""

    max_batch_traces = MAX_BATCH_TRACES

    def __init__(
        self, destination: Destination, *, load_grpc: Callable[[], Any] | None = None
    ) -> None:
        assert destination.endpoint is not None
        self.destination = destination
        self._load_grpc = load_grpc or _import_grpc
        self._grpc: Any = None
        self._channel: Any = None
        self._export: Any = None

    def _connect(self) -> Result | None:
        """Open the channel once per run; a Result when that cannot be done."""
        if self._export is not None:
            return None
        try:
            self._grpc = grpc = self._load_grpc()
        except ImportError:
            return Result.retry(EXTRA_MISSING, retry_after_s=EXTRA_MISSING_RETRY_S)
        from urllib.parse import urlsplit

        from otel_cli_telemetry._exporter.sinks._http import user_agent

        dest = self.destination
        assert dest.endpoint is not None
        target = urlsplit(dest.endpoint).netloc
        options = [("grpc.primary_user_agent", user_agent())]
        if dest.insecure:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            try:
                credentials = grpc.ssl_channel_credentials(
                    root_certificates=_read(dest.ca_file),
                    private_key=_read(dest.client_key),
                    certificate_chain=_read(dest.client_cert),
                )
            except (OSError, ValueError) as exc:  # an unreadable CA or client certificate
                return Result.retry(f"tls_config:{exc.__class__.__name__}")
            self._channel = grpc.secure_channel(target, credentials, options=options)
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        # The body is already serialised: bytes go through as they are.
        self._export = self._channel.unary_unary(
            EXPORT_METHOD,
            request_serializer=bytes,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        return None

    def export(self, requests: list[dict[str, Any]], *, timeout_s: float) -> Result:
        failure = self._connect()
        if failure is not None:
            return failure
        from otel_cli_telemetry._exporter.sinks.otlp import to_protobuf

        parts, bad = convert_each(requests, lambda request: [to_protobuf(request)])
        if bad:
            return Result.failure("unencodable", unencodable=bad)
        grpc = self._grpc
        dest = self.destination
        limit = dest.timeout_s
        timeout = timeout_s if not limit or limit <= 0 else min(timeout_s, limit)
        try:
            response = self._export(
                b"".join(parts),
                timeout=max(0.05, timeout),
                metadata=metadata(dest.headers) or None,
                compression=grpc.Compression.Gzip if dest.compression == "gzip" else None,
            )
        except grpc.RpcError as error:
            return self._failure(error)
        partial = response.partial_success
        return Result.success(rejected_spans=max(0, int(partial.rejected_spans)))

    def _failure(self, error: Any) -> Result:
        try:
            name = str(error.code().name)
        except Exception:  # noqa: BLE001 - not a call error: treat as a transport failure
            name = "UNAVAILABLE"
        details = _trailer(error, STATUS_DETAILS_KEY)
        return grpc_result(name, retry_delay(details) if details is not None else None)

    def shutdown(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = None
        self._export = None


def _import_grpc() -> Any:
    import grpc

    return grpc


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as file:
        return file.read()
