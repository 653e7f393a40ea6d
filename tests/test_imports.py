"""Off costs nothing: with an opt-out set, the package imports only its light entry modules,
resolves no path, touches no file and starts no process.

The module checks run in a fresh interpreter (this one has pytest and the whole package
loaded), and compare ``sys.modules`` before and after against what the interpreter had
already loaded at start-up.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import otel_cli_telemetry
from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import state
from otel_cli_telemetry._process import config
from tests.conftest import ROOT

#: Everything a disabled run may import: the package's light entry, nothing else. Keep it
#: short; a module added here is paid by every CLI user who opted out.
LIGHT_ENTRY = frozenset(
    {
        "otel_cli_telemetry",
        "otel_cli_telemetry._record",
        "otel_cli_telemetry._process",  # the package of the CLI-process modules (a docstring)
        # The one consent function both processes call, and the names it reads.
        "otel_cli_telemetry._disk",
        "otel_cli_telemetry._disk.consent",
        "otel_cli_telemetry._disk.contract",
        "otel_cli_telemetry._process.run",
        "otel_cli_telemetry.telemetry",
        "otel_cli_telemetry._controls",  # the methods Telemetry has beside recording
        "otel_cli_telemetry._process.noop",  # ``telemetry.tracer`` when off
    }
)

#: Audit events that mean a process, a socket, or a change on disk.
_WATCHED_EVENTS = (
    "subprocess.", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec",
    "os.system", "os.kill", "socket.", "os.mkdir", "os.rename", "os.replace", "os.remove",
    "os.rmdir", "os.symlink", "os.link", "os.truncate", "os.chmod", "os.chown", "os.utime",
    "shutil.", "tempfile.",
)  # fmt: skip

# Runs in a fresh interpreter. ``sys`` and ``os`` are loaded at start-up, so the probe itself
# imports nothing; the audit hook sees every process start, socket, write, and any open or
# listing under the test's directory (telemetry home and XDG dirs live there).
_PROBE = f"""
import sys
before = set(sys.modules)
import os
events = []
WATCHED = {_WATCHED_EVENTS!r}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
SANDBOX = os.environ["PROBE_SANDBOX"]

def hook(event, args):
    if event.startswith(WATCHED):
        events.append(event)
    elif event in ("open", "os.listdir", "os.scandir") and args:
        path = args[0]
        path = os.fsdecode(path) if isinstance(path, (str, bytes)) else str(path)
        writes = event == "open" and (
            (isinstance(args[1], str) and any(c in args[1] for c in "wax+"))
            or (args[2] & WRITE_FLAGS)
        )
        if writes or path.startswith(SANDBOX):
            events.append(event + " " + path)

sys.addaudithook(hook)

import otel_cli_telemetry
from otel_cli_telemetry import Telemetry

t = Telemetry("imp", version="1", env_prefix="IMP")
with t.command("x") as handle:
    with t.tracer.start_as_current_span("inner") as span:
        span.set_attribute("k", 1)

@t.tracer.start_as_current_span("decorated")
def g():
    return 5

@t.track("y")
def f():
    "Doc of f."
    return 0

result = f()
decision = t.consent()
added = sorted(set(sys.modules) - before)
print(repr({{
    "added": added,
    "events": events,
    "enabled": decision.enabled,
    "rule": decision.rule,
    "recording": handle.recording,
    "result": result,
    "tracer": [span.is_recording(), g(), g.__name__],
    "wrapper": [f.__name__, f.__qualname__, f.__doc__, f.__wrapped__.__name__],
}}))
"""

SWITCHES = [
    pytest.param({"IMP_TELEMETRY_DISABLED": "1"}, id="app-disabled-1"),
    pytest.param({"IMP_TELEMETRY_DISABLED": "true"}, id="app-disabled-true"),
    pytest.param({"DO_NOT_TRACK": "1"}, id="do-not-track-1"),
    pytest.param({"DO_NOT_TRACK": "true"}, id="do-not-track-true"),
    # An unknown word counts as "on" for DO_NOT_TRACK, and is logged once: not by importing
    # logging on the off path.
    pytest.param({"DO_NOT_TRACK": "please"}, id="do-not-track-any-value"),
    pytest.param({"OTEL_SDK_DISABLED": "true"}, id="otel-sdk-disabled"),
    pytest.param({"OTEL_TRACES_EXPORTER": "none"}, id="otel-traces-exporter-none"),
]


def probe_env(sandbox: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no inherited telemetry settings, every state dir in ``sandbox``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(sandbox / "user-home"),
        "PYTHONPATH": str(ROOT),
        # Importing would otherwise write .pyc files, which the audit hook would report.
        "PYTHONDONTWRITEBYTECODE": "1",
        "IMP_TELEMETRY_HOME": str(sandbox / "telemetry-home"),
        "XDG_STATE_HOME": str(sandbox / "xdg-state"),
        "XDG_CONFIG_HOME": str(sandbox / "xdg-config"),
        "XDG_CACHE_HOME": str(sandbox / "xdg-cache"),
        "XDG_DATA_HOME": str(sandbox / "xdg-data"),
        "PROBE_SANDBOX": str(sandbox),
    }
    env.update(extra)
    return env


def run_python(code: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    return result


def run_probe(tmp_path: Path, switch: dict[str, str]) -> dict[str, Any]:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    return run_python(_PROBE, probe_env(sandbox, **switch), cwd=tmp_path)


@pytest.mark.parametrize("switch", SWITCHES)
def test_off_imports_only_the_light_entry(tmp_path: Path, switch: dict[str, str]) -> None:
    """Import, construct, ``command()``, ``track()`` and ``telemetry.tracer`` with an opt-out
    load nothing the interpreter had not loaded at start-up, apart from the package's light
    entry modules."""
    report = run_probe(tmp_path, switch)

    assert (report["enabled"], report["rule"]) == (False, "env")
    assert "otel_cli_telemetry.telemetry" in report["added"]  # the probe does see imports
    offenders = sorted(set(report["added"]) - LIGHT_ENTRY)
    assert not offenders, (
        f"with {switch} set, the off path imported {len(offenders)} module(s) beyond the "
        f"light entry: {', '.join(offenders)}"
    )


@pytest.mark.parametrize("switch", SWITCHES)
def test_off_touches_no_file_and_starts_no_process(tmp_path: Path, switch: dict[str, str]) -> None:
    """With an opt-out, the telemetry home is not created (or even looked at), nothing is
    written anywhere, and no process or socket is opened."""
    report = run_probe(tmp_path, switch)

    assert report["events"] == []
    assert not (tmp_path / "sandbox" / "telemetry-home").exists()
    assert sorted(p.name for p in (tmp_path / "sandbox").iterdir()) == []
    assert report["recording"] is False
    assert report["result"] == 0
    assert report["wrapper"] == ["f", "f", "Doc of f.", "f"]
    assert report["tracer"] == [False, 5, "g"]


def test_probe_catches_the_on_path(tmp_path: Path) -> None:
    """The same probe with telemetry on (debug mode: prints, sends nothing) reports the
    pipeline's imports and the config file being read: the checks above are not vacuous."""
    report = run_probe(tmp_path, {"IMP_TELEMETRY_DEBUG": "1"})

    assert (report["enabled"], report["rule"]) == (True, "default")
    assert report["recording"] is True
    assert {"otel_cli_telemetry._process.sdk", "otel_cli_telemetry._disk.state"} <= set(
        report["added"]
    )
    config_file = tmp_path / "sandbox" / "telemetry-home" / "config.toml"
    assert f"open {config_file}" in report["events"]


_LAZY_PROBE = """
import sys
before = set(sys.modules)
import otel_cli_telemetry as package
after_import = sorted(set(sys.modules) - before)
listed = dir(package)
origins = {}
for name in package.__all__:
    value = getattr(package, name)
    origins[name] = value if isinstance(value, str) else value.__module__
try:
    package.NoSuchName
except AttributeError as exc:
    missing = str(exc)
else:
    missing = None
print(repr({
    "after_import": after_import,
    "listed": listed,
    "origins": origins,
    "all": list(package.__all__),
    "missing": missing,
}))
"""


def test_public_names_resolve_lazily(tmp_path: Path) -> None:
    """``import otel_cli_telemetry`` loads only the package itself; each public name loads
    its module on first use, and ``dir()`` lists them all beforehand."""
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    report = run_python(_LAZY_PROBE, probe_env(sandbox), cwd=tmp_path)

    assert report["after_import"] == ["otel_cli_telemetry"]
    assert set(report["all"]) <= set(report["listed"])
    assert report["origins"] == {
        "CommandHandle": "otel_cli_telemetry._process.run",
        "Datadog": "otel_cli_telemetry.destinations",
        "Decision": "otel_cli_telemetry._disk.consent",
        "ExitStatus": "otel_cli_telemetry._process.command",
        "Change": "otel_cli_telemetry.records",
        "FlushReport": "otel_cli_telemetry.records",
        "OTLP": "otel_cli_telemetry.destinations",
        "Paths": "otel_cli_telemetry.records",
        "PostHog": "otel_cli_telemetry.destinations",
        "QueueStatus": "otel_cli_telemetry.records",
        "ResolvedDestination": "otel_cli_telemetry.records",
        "Status": "otel_cli_telemetry._admin.status",
        "Telemetry": "otel_cli_telemetry.telemetry",
        "UnsafeHomeError": "otel_cli_telemetry._disk.fs",
        "__version__": otel_cli_telemetry.__version__,
    }
    assert report["missing"] == "module 'otel_cli_telemetry' has no attribute 'NoSuchName'"


def test_public_api_is_unchanged() -> None:
    """``__all__`` is the documented public surface, and each name imports from the package."""
    from otel_cli_telemetry import (
        OTLP,
        CommandHandle,
        Datadog,
        Decision,
        ExitStatus,
        FlushReport,
        PostHog,
        Status,
        __version__,
        destinations,
        records,
    )
    from otel_cli_telemetry._admin import status
    from otel_cli_telemetry._process import command, consent, run

    assert sorted(otel_cli_telemetry.__all__) == [
        "Change", "CommandHandle", "Datadog", "Decision", "ExitStatus", "FlushReport", "OTLP",
        "Paths", "PostHog", "QueueStatus", "ResolvedDestination", "Status", "Telemetry",
        "UnsafeHomeError", "__version__",
    ]  # fmt: skip
    assert (CommandHandle, Decision, ExitStatus, Status) == (
        run.CommandHandle, consent.Decision, command.ExitStatus, status.Status,
    )  # fmt: skip
    assert FlushReport is records.FlushReport
    assert (OTLP, Datadog, PostHog) == (
        destinations.OTLP, destinations.Datadog, destinations.PostHog,
    )  # fmt: skip
    assert isinstance(__version__, str)
    assert Telemetry.__module__ == "otel_cli_telemetry.telemetry"


def test_env_opt_out_resolves_no_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Consent reads the environment before locating the config file: with an opt-out set,
    the state directory is never resolved."""

    def no_paths(*args: object, **kwargs: object) -> state.Paths:
        raise AssertionError("resolve_paths called although the environment decided")

    monkeypatch.setattr(state, "resolve_paths", no_paths)
    telemetry = Telemetry("imp", env_prefix="IMP", env={"OTEL_TRACES_EXPORTER": "none"})
    decision = telemetry.consent()
    assert (decision.enabled, decision.rule) == (False, "env")
    with telemetry.command("x") as handle:
        pass
    assert not handle.recording


def test_persisted_choice_still_applies_without_env(home: Path) -> None:
    """With no variable set, the config file is read (after the environment) and decides."""
    telemetry = Telemetry("imp", env_prefix="IMP", env={}, home=home)
    telemetry.disable()
    decision = telemetry.consent()
    assert (decision.enabled, decision.rule) == (False, "config")
    enabled_by_env = Telemetry(
        "imp", env_prefix="IMP", env={"IMP_TELEMETRY_DISABLED": "0"}, home=home
    ).consent()
    assert (enabled_by_env.enabled, enabled_by_env.rule) == (True, "env")


def test_track_wraps_like_functools() -> None:
    """``track`` copies what ``functools.wraps`` copies, without importing functools."""
    telemetry = Telemetry("imp", env_prefix="IMP", env={"DO_NOT_TRACK": "1"})

    def transcribe(path: str, *, fast: bool = False) -> int:
        """Transcribe one file."""
        return 3

    transcribe.marker = "kept"  # type: ignore[attr-defined]
    ours = telemetry.track()(transcribe)
    reference = functools.wraps(transcribe)(lambda *a, **k: None)

    for attr in ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__"):
        assert getattr(ours, attr) == getattr(reference, attr), attr
    assert ours.__wrapped__ is transcribe  # type: ignore[attr-defined]
    assert ours.marker == "kept"  # type: ignore[attr-defined]
    assert inspect.signature(ours) == inspect.signature(transcribe)
    assert ours("a.wav") == 3


@pytest.mark.parametrize(
    ("service_name", "prefix"),
    [
        ("assembly", "ASSEMBLY"),
        ("my-cli", "MY_CLI"),
        ("--my..cli--", "MY_CLI"),
        ("a__b", "A_B"),
        ("café-2", "CAF_2"),
        ("---", "APP"),
        ("", "APP"),
    ],
)
def test_env_prefix_without_re(service_name: str, prefix: str) -> None:
    """The default prefix: each run of non-ASCII-alphanumerics becomes one underscore."""
    assert config.env_prefix_for(service_name) == prefix


@given(st.text(max_size=30))
def test_env_prefix_matches_the_regex_it_replaced(service_name: str) -> None:
    """The loop gives what ``re.sub(r"[^A-Za-z0-9]+", "_", ...)`` gave, for any text."""
    expected = re.sub(r"[^A-Za-z0-9]+", "_", service_name).strip("_").upper() or "APP"
    assert config.env_prefix_for(service_name) == expected
