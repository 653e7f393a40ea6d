"""The detached exporter child (``python -m otel_cli_telemetry._exporter.child``): it
re-checks the state dir, drains each destination's queue and hands batches to the sinks.
Never imported by the CLI process on the usage path."""
