"""Which sink sends to a destination, by its kind; each sink module is loaded only when its
kind is sent to (OTLP over gRPC or HTTP, Datadog, PostHog, the local file)."""

from __future__ import annotations

from otel_cli_telemetry._disk import destination as destination_mod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._disk.destination import Destination
    from otel_cli_telemetry._disk.state import Paths
    from otel_cli_telemetry._exporter.sinks import Sink


def make_sink(dest: Destination, paths: Paths) -> Sink:
    """The sink of a destination's kind."""
    if dest.kind == destination_mod.OTLP and dest.protocol == "grpc":
        from otel_cli_telemetry._exporter.sinks.grpc import OtlpGrpcSink

        return OtlpGrpcSink(dest)
    if dest.kind == destination_mod.OTLP:
        from otel_cli_telemetry._exporter.sinks.otlp import OtlpHttpSink

        return OtlpHttpSink(dest)
    if dest.kind == destination_mod.DATADOG:
        from otel_cli_telemetry._exporter.sinks.datadog import DatadogLogsSink

        return DatadogLogsSink(dest)
    if dest.kind == destination_mod.POSTHOG:
        from otel_cli_telemetry._exporter.sinks.posthog import PostHogSink

        return PostHogSink(dest)
    from otel_cli_telemetry._exporter.sinks.file import FileSink

    return FileSink(paths.sink_file, max_bytes=dest.file_max_bytes)
