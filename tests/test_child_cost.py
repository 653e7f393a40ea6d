"""What one exporter child costs (issue 21): the default file sink's child loads no heavy
standard-library module beyond what a bare interpreter has, and is started without ``-m``.

``tests/test_child_imports.py`` proves that no network code is loaded where none is needed;
this file proves the rest of the child stays small too (the modules below cost, together,
more than a whole lean CLI command in instructions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from otel_cli_telemetry import destinations as d
from otel_cli_telemetry._process import launcher
from tests.collector import OtlpReceiver
from tests.test_child_imports import _spool, child_modules

#: Modules the file sink's child used to load, each one (with what it pulls in) a few
#: million instructions: ``-m`` (runpy, importlib.util), annotations (typing), pathlib
#: (with fnmatch, re, urllib.parse, ipaddress), threading, enum, json, contextlib...
HEAVY = {
    "runpy",
    "importlib.util",
    "typing",
    "pathlib",
    "re",
    "fnmatch",
    "ipaddress",
    "urllib.parse",
    "threading",
    "enum",
    "dataclasses",
    "contextlib",
    "functools",
    "collections",
    "json",
    "signal",
    "subprocess",
    "socket",
    "ssl",
}


def bare_modules() -> set[str]:
    """Every module a bare interpreter loads, started as the child is (same flags, env)."""
    flags = [a for a in launcher.argv()[1:-2] if a.startswith("-")]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *flags, "-c", "pass"],
        env=launcher.child_env({"PATH": "/usr/bin:/bin"}, Path("/nonexistent")),
        cwd=launcher.CHILD_CWD, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line and "imported package" not in line
    }


def test_the_child_is_started_without_runpy() -> None:
    """The launcher's argv runs the child's ``main`` with ``-c``, not ``-m`` (which loads
    runpy and importlib.util first), and carries nothing but that fixed code."""
    argv = launcher.argv()
    assert "-m" not in argv
    assert argv[-2:] == ["-c", launcher.ENTRY_CODE]
    assert "otel_cli_telemetry._exporter.child" in launcher.ENTRY_CODE


def test_the_file_sink_child_loads_no_heavy_stdlib_module(home: Path) -> None:
    """The default destination's real child delivers, loading none of ``HEAVY`` beyond
    what the bare interpreter already had."""
    _spool(home, [])
    loaded = child_modules(home)
    assert "otel_cli_telemetry._exporter.sinks.file" in loaded  # it did run the sink
    assert (home / "traces.jsonl").stat().st_size > 0
    extra = (loaded - bare_modules()) & HEAVY
    assert not extra, sorted(extra)


def test_an_http_json_child_loads_no_heavy_stdlib_module(home: Path) -> None:
    """OTLP http/json to an ``http://`` receiver: delivered over the bare ``_socket``, with
    no ``socket``, ``urllib.parse``, ``json`` or ``enum`` (nor anything else in ``HEAVY``)."""
    with OtlpReceiver() as receiver:
        _spool(home, [d.OTLP(receiver.url, protocol="http/json")])
        loaded = child_modules(home)
        assert len(receiver.spans()) == 1
    extra = (loaded - bare_modules()) & HEAVY
    assert not extra, sorted(extra)
