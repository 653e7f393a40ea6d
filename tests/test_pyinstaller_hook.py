"""Our PyInstaller analysis hook, run against the real PyInstaller (no build): it bundles
what the frozen exporter imports lazily and leaves the test-only modules out."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from otel_cli_telemetry import _pyinstaller


def test_the_analysis_hook_bundles_the_lazy_imports_and_leaves_test_modules_out() -> None:
    """The hook's hidden imports name the exporter child, every sink and its HTTP client,
    ssl, the admin CLI, the OTLP trace service protos and platformdirs, and never the
    PyInstaller support or the pytest plugin (which it also excludes)."""
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (test extra)")
    [hook_dir] = _pyinstaller.get_hook_dirs()
    hook = runpy.run_path(str(Path(hook_dir) / "hook-otel_cli_telemetry.py"))
    hidden = set(hook["hiddenimports"])
    assert {
        "otel_cli_telemetry._exporter.child",
        "otel_cli_telemetry._exporter.sinks.otlp",
        "otel_cli_telemetry._exporter.sinks.grpc",
        "otel_cli_telemetry._exporter.sinks.datadog",
        "otel_cli_telemetry._exporter.sinks.posthog",
        "otel_cli_telemetry._exporter.sinks.file",
        "otel_cli_telemetry._admin.cli",
        "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
        "otel_cli_telemetry._exporter.sinks._wire",
        "ssl",
        "platformdirs",
    } <= hidden
    assert not {n for n in hidden if n.startswith("otel_cli_telemetry._pyinstaller")}
    assert "otel_cli_telemetry.pytest_plugin" not in hidden
    assert "otel_cli_telemetry.pytest_plugin" in hook["excludedimports"]
