"""PyInstaller runtime hook, run before the frozen app's own code.

A frozen app has no ``python -m``: the launcher starts the binary itself with
``OTEL_CLI_TELEMETRY_RUN_EXPORTER=1`` in a reduced environment. This hook then runs the
exporter child and exits, so the app's command never runs a second time.
"""


def _otel_cli_telemetry_exporter() -> None:
    import os
    import sys

    if os.environ.get("OTEL_CLI_TELEMETRY_RUN_EXPORTER") != "1":
        return
    from otel_cli_telemetry._exporter.child import main

    sys.exit(main())


_otel_cli_telemetry_exporter()
