"""PyInstaller support, found through the ``pyinstaller40`` entry point.

- ``hook-otel_cli_telemetry.py`` (analysis hook): bundles the modules this package imports
  lazily (the exporter child, the sinks, the admin CLI), which PyInstaller cannot see.
- ``rthook_exporter.py`` (runtime hook, run before the app's own code): when the frozen
  binary is started by the launcher as the exporter child (``EXPORTER_ENV`` set), it runs the
  exporter and exits, so the app's command never runs twice.
"""

import os

#: Set by the launcher in the environment of a frozen app started as the exporter child.
EXPORTER_ENV = "OTEL_CLI_TELEMETRY_RUN_EXPORTER"


def get_hook_dirs() -> list[str]:
    """PyInstaller's ``pyinstaller40`` entry point: where our hooks are."""
    return [os.path.dirname(__file__)]
