"""The on-disk contract between the CLI process and the exporter child: the state dir and
how it is trusted (``fs``), its paths and files (``state``), the spool of OTLP/JSON traces,
the delivery bookkeeping, the exporter marker, the destinations file, the identity file,
and the OTLP/JSON encoding both sides read."""
