"""PyInstaller analysis hook: bundle what ``otel_cli_telemetry`` imports lazily.

The exporter child, the sinks, the SDK bridge and the admin CLI are imported inside
functions (an opted-out run must not pay for them), so PyInstaller's import scan misses them;
a frozen app started as its own exporter needs them all, and their dependencies.
"""

from PyInstaller.utils.hooks import collect_submodules

hiddenimports = [
    name
    for name in collect_submodules("otel_cli_telemetry")
    # PyInstaller support and the pytest plugin have no business in an app.
    if not name.startswith("otel_cli_telemetry._pyinstaller")
    and name != "otel_cli_telemetry.pytest_plugin"
]
hiddenimports += collect_submodules("opentelemetry.proto.collector.trace")
# The exporter child's HTTP client is the standard library's sockets (ssl for https).
hiddenimports += ["platformdirs", "select", "ssl", "zlib"]
excludedimports = ["pytest", "otel_cli_telemetry.pytest_plugin"]
