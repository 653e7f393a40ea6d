"""Consent: which rule decides, and that "off" means nothing happens at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import state
from otel_cli_telemetry._process import consent
from tests.conftest import ROOT, cli_env, exporter_pids


def decide(env: dict[str, str], config_file: Path | None = None) -> consent.Decision:
    return consent.resolve(env, env_prefix="ASSEMBLY", config_file=config_file)


def test_default_is_on() -> None:
    """With nothing set, the opt-out model says yes, and says why."""
    decision = decide({})
    assert decision.enabled
    assert decision.rule == "default"


@pytest.mark.parametrize(
    ("env", "detail"),
    [
        ({"ASSEMBLY_TELEMETRY_DISABLED": "1"}, "ASSEMBLY_TELEMETRY_DISABLED"),
        ({"ASSEMBLY_TELEMETRY_DISABLED": "true"}, "ASSEMBLY_TELEMETRY_DISABLED"),
        ({"DO_NOT_TRACK": "1"}, "DO_NOT_TRACK"),
        ({"DO_NOT_TRACK": "TRUE"}, "DO_NOT_TRACK"),
        ({"OTEL_SDK_DISABLED": "true"}, "OTEL_SDK_DISABLED"),
        ({"OTEL_SDK_DISABLED": "True"}, "OTEL_SDK_DISABLED"),
        ({"OTEL_TRACES_EXPORTER": "none"}, "OTEL_TRACES_EXPORTER"),
    ],
)
def test_each_switch_turns_it_off(env: dict[str, str], detail: str) -> None:
    """Every documented switch disables, and the decision names it."""
    decision = decide(env)
    assert not decision.enabled
    assert decision.rule == "env"
    assert detail in decision.detail


@pytest.mark.parametrize(
    "env",
    [
        {"DO_NOT_TRACK": ""},
        {"DO_NOT_TRACK": "0"},
        {"DO_NOT_TRACK": "false"},
        {"OTEL_SDK_DISABLED": "1"},  # the spec says only "true" disables
        {"OTEL_SDK_DISABLED": "false"},
        {"OTEL_TRACES_EXPORTER": "otlp"},
        {"ASSEMBLY_TELEMETRY_DISABLED": "   "},
    ],
)
def test_values_that_do_not_disable(env: dict[str, str]) -> None:
    """Empty and false values count as unset."""
    assert decide(env).enabled


def test_persisted_choice_and_env_precedence(tmp_path: Path) -> None:
    """The persisted "off" holds until an env variable says otherwise; env always wins."""
    config_file = tmp_path / "config.toml"
    consent.persist(config_file, False)
    assert decide({}, config_file) == consent.Decision(
        False, "config", f"disabled in {config_file}"
    )
    on = decide({"ASSEMBLY_TELEMETRY_DISABLED": "0"}, config_file)
    assert on.enabled
    assert on.rule == "env"
    consent.persist(config_file, True)
    assert decide({"DO_NOT_TRACK": "1"}, config_file).rule == "env"
    assert decide({}, config_file).enabled


def test_corrupt_config_file_is_not_fatal(tmp_path: Path) -> None:
    """Garbage in config.toml is ignored line by line; the default applies."""
    config_file = tmp_path / "config.toml"
    config_file.write_bytes(b"\xff\xfe\x00garbage\nenabled = maybe\n[[[\n")
    assert decide({}, config_file).rule == "default"
    config_file.write_text("# comment\nenabled = false  # off\nnoise\n")
    assert decide({}, config_file).rule == "config"


def test_telemetry_enable_disable_status(home: Path) -> None:
    """The enable/disable actions persist, and status reports the deciding rule."""
    telemetry = Telemetry("assembly", home=home, env={})
    assert telemetry.disable().rule == "config"
    status = telemetry.status()
    assert not status.enabled
    assert "config" in status.lines()[0]
    assert (home / "config.toml").stat().st_mode & 0o777 == 0o600
    assert telemetry.enable().enabled


def test_unsafe_home_turns_telemetry_off(tmp_path: Path) -> None:
    """A group- or world-writable state dir is refused; status says why."""
    unsafe = tmp_path / "unsafe"
    unsafe.mkdir()
    unsafe.chmod(0o777)
    decision = Telemetry("assembly", home=unsafe, env={}).consent()
    assert not decision.enabled
    assert decision.rule == "unsafe_home"
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    assert Telemetry("assembly", home=link, env={}).consent().rule == "unsafe_home"


_PROBE = """
import json, socket, subprocess, sys
opened = []
real_connect = socket.socket.connect
def spy_connect(self, *a, **k):
    opened.append("connect")
    return real_connect(self, *a, **k)
socket.socket.connect = spy_connect
real_popen_init = subprocess.Popen.__init__
def spy_popen(self, *a, **k):
    opened.append("spawn")
    return real_popen_init(self, *a, **k)
subprocess.Popen.__init__ = spy_popen
sys.argv = ["typer_cli.py", "transcribe", "secret.wav"]
sys.path.insert(0, "examples")
import runpy
code = 0
try:
    runpy.run_path("examples/typer_cli.py", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
otel = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print(json.dumps({"otel": otel, "opened": opened, "code": code}))
"""


@pytest.mark.parametrize(
    "switch",
    [
        {"ASSEMBLY_TELEMETRY_DISABLED": "1"},
        {"DO_NOT_TRACK": "1"},
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_disabled_means_nothing_happens(
    switch: dict[str, str], home: Path, reap_exporters: Path
) -> None:
    """Off: no opentelemetry import, no socket, no process, no file, same output."""
    env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", **switch)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert lines[0] == "transcribed 10 characters of path name"
    assert report == {"otel": [], "opened": [], "code": 0}
    assert result.stderr == ""
    assert not home.exists()
    assert exporter_pids(home) == []


def test_persisted_disable_in_a_real_process(home: Path, reap_exporters: Path) -> None:
    """`telemetry disable` from the CLI itself stops the next run from recording."""
    env = cli_env(home)
    subprocess.run(
        [sys.executable, "examples/typer_cli.py", "telemetry", "disable"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    before = sorted(p.name for p in home.iterdir())
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["otel"] == []
    assert report["opened"] == []
    assert sorted(p.name for p in home.iterdir()) == before == ["config.toml"]
    assert state.read_config(home / "config.toml") == {"enabled": False}
