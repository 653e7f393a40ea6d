"""The machine policy: one file that limits every app, read with the package's trust rules,
failing closed (off) with the reason in ``status``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_cli_telemetry import OTLP, Telemetry
from otel_cli_telemetry._disk import delivery, policy, spool
from otel_cli_telemetry._process import config, consent
from tests.collector import OtlpReceiver
from tests.conftest import ROOT
from tests.test_modes import block_exporter, queue_commands, run_child, unblock


def write_policy(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def app(home: Path, policy_file: Path, **env: str) -> Telemetry:
    return Telemetry("demo", home=home, env={"OTEL_CLI_TELEMETRY_POLICY": str(policy_file), **env})


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", "/etc/otel-cli-telemetry/policy.toml"),
        ("freebsd13", "/etc/otel-cli-telemetry/policy.toml"),
        ("darwin", "/Library/Application Support/otel-cli-telemetry/policy.toml"),
        ("win32", "D:\\Data\\otel-cli-telemetry\\policy.toml"),
    ],
)
def test_default_path_per_platform(platform: str, expected: str) -> None:
    """The system-wide place on each platform (``%ProgramData%`` on Windows)."""
    assert config.policy_default_path({"PROGRAMDATA": "D:\\Data"}, platform) == expected


def test_one_variable_overrides_the_path(tmp_path: Path) -> None:
    """``OTEL_CLI_TELEMETRY_POLICY`` names another file; without it, the platform's."""
    assert config.policy_path({"OTEL_CLI_TELEMETRY_POLICY": str(tmp_path / "p.toml")}) == str(
        tmp_path / "p.toml"
    )
    assert config.policy_path({}) == config.policy_default_path({})


def test_forces_off_for_all_apps(tmp_path: Path, home: Path) -> None:
    """``telemetry = "off"`` beats the user's ``enable`` and ``{PREFIX}_TELEMETRY=on``, and
    ``status`` names the policy."""
    file = write_policy(tmp_path / "etc" / "policy.toml", 'telemetry = "off"  # all of them\n')
    telemetry = app(home, file, DEMO_TELEMETRY="on")
    telemetry.enable()
    decision = telemetry.consent()
    assert (decision.mode, decision.rule) == ("off", "policy")
    assert str(file) in decision.detail
    lines = telemetry.status().lines()
    assert lines[0].startswith("telemetry: disabled (policy: machine policy ")
    assert any(line.startswith("machine policy: ") and str(file) in line for line in lines)


def test_named_apps_and_local(tmp_path: Path, home: Path) -> None:
    """Per app (quoted or bare names) beats the machine-wide line; ``local`` caps ``on``
    at local but never turns on what the user turned off."""
    file = write_policy(
        tmp_path / "policy.toml",
        '# managed by IT\ntelemetry = "local"\n\n[apps]\n"demo" = "on"\nother-cli = "off"\n',
    )
    assert app(home, file).consent().mode == "on"
    other = Telemetry("other-cli", home=home, env={"OTEL_CLI_TELEMETRY_POLICY": str(file)})
    assert (other.consent().mode, other.consent().rule) == ("off", "policy")
    third = Telemetry("third", home=home, env={"OTEL_CLI_TELEMETRY_POLICY": str(file)})
    assert (third.consent().mode, third.consent().rule) == ("local", "policy")
    assert third.destinations()[0].kind == "file"
    third.disable()
    assert (third.consent().mode, third.consent().rule) == ("off", "config")


def test_explicit_argument_is_capped_too(tmp_path: Path, home: Path) -> None:
    """The policy comes before the app's own settings: ``enabled=True`` is capped."""
    file = write_policy(tmp_path / "policy.toml", '[apps]\ndemo = "local"\n')
    telemetry = Telemetry(
        "demo", home=home, enabled=True, env={"OTEL_CLI_TELEMETRY_POLICY": str(file)}
    )
    assert (telemetry.consent().mode, telemetry.consent().rule) == ("local", "policy")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('telemetry = "sometimes"\n', "is not one of on, local, off"),
        ("telemetry = off\n", "not valid TOML: Invalid value (at line 1"),
        ("telemetry = 1\n", "the value must be a quoted string"),
        ('telemetri = "local"\n', "unknown key 'telemetri'"),
        ('[apps]\ndemo = "on"\n[apps]\n', "not valid TOML: Cannot declare ('apps',) twice"),
        ('[servers]\nx = "on"\n', "only an [apps] table is understood, not [servers]"),
        ('[apps]\ndemo = "on"\ndemo = "off"\n', "not valid TOML: Cannot overwrite a value"),
        ('"demo = "on"\n', "not valid TOML"),
    ],
)
def test_parse_errors_fail_closed(tmp_path: Path, home: Path, text: str, reason: str) -> None:
    """A policy that does not parse turns telemetry off, and says which line and why."""
    file = write_policy(tmp_path / "policy.toml", text)
    decision = app(home, file).consent()
    assert (decision.enabled, decision.rule) == (False, "policy")
    assert reason in decision.detail
    assert "cannot be used" in decision.detail


def test_untrusted_files_fail_closed(tmp_path: Path, home: Path) -> None:
    """Writable by others, another user's, oversized, not UTF-8, a FIFO (never waited on),
    a directory, a link to a place others can write: off, with the reason."""
    cases: dict[str, Path] = {}
    (tmp_path / "f.toml").mkdir()
    cases["a directory"] = tmp_path / "f.toml"
    cases["writable by others"] = write_policy(tmp_path / "a.toml", 'telemetry = "on"\n', 0o666)
    foreign = write_policy(tmp_path / "b.toml", 'telemetry = "on"\n')
    if os.getuid() == 0:
        os.chown(foreign, 12345, -1)
        cases["neither root nor this user"] = foreign
    cases["larger than"] = write_policy(tmp_path / "c.toml", "# x\n" * 20000)
    cases["not UTF-8"] = tmp_path / "d.toml"
    cases["not UTF-8"].write_bytes(b"# \xff\xfe\n")
    fifo = tmp_path / "e.toml"
    os.mkfifo(fifo)
    cases["not a regular file"] = fifo
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # no sticky bit: anyone could swap the file
    target = write_policy(shared / "policy.toml", 'telemetry = "on"\n')
    shared.chmod(0o777)
    link = tmp_path / "g.toml"
    link.symlink_to(target)
    cases["can be written by others"] = link
    for reason, file in cases.items():
        if reason == "a directory":
            reason = "not a regular file"
        decision = app(home, file).consent()
        assert (decision.enabled, decision.rule) == (False, "policy"), reason
        assert reason in decision.detail, (reason, decision.detail)


def test_a_link_to_a_trusted_file_is_followed(tmp_path: Path, home: Path) -> None:
    """A link owned by root or us, to a file that passes every check, is honoured."""
    target = write_policy(tmp_path / "real" / "policy.toml", 'telemetry = "local"\n')
    link = tmp_path / "policy.toml"
    link.symlink_to(target)
    assert app(home, link).consent().mode == "local"
    dangling = tmp_path / "dangling.toml"
    dangling.symlink_to(tmp_path / "missing.toml")
    assert app(home, dangling).consent().mode == "off"


def test_env_opt_out_never_reads_the_policy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: Path
) -> None:
    """The policy is read only when no env opt-out decided."""

    def refuse(*args: object) -> None:
        raise AssertionError("policy read although the environment decided")

    monkeypatch.setattr(policy, "load", refuse)
    for switch in ({"DO_NOT_TRACK": "1"}, {"DEMO_TELEMETRY": "off"}):
        decision = app(home, tmp_path / "p.toml", **switch).consent()
        assert (decision.enabled, decision.rule) == (False, "env")


_OPEN_PROBE = """
import os, sys
path = os.environ["OTEL_CLI_TELEMETRY_POLICY"]
opened = []
sys.addaudithook(lambda e, a: opened.append(a[0]) if e == "open" and a and a[0] == path else None)
from otel_cli_telemetry import Telemetry
decision = Telemetry("demo", home=os.environ["HOME_DIR"]).consent()
loaded = "otel_cli_telemetry._disk.policy" in sys.modules
print(repr({"opens": len(opened), "mode": decision.mode, "reader loaded": loaded}))
"""


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, {"opens": 0, "mode": "on", "reader loaded": False}),
        ('telemetry = "local"\n', {"opens": 1, "mode": "local", "reader loaded": True}),
    ],
)
def test_no_policy_costs_one_failed_lstat(
    tmp_path: Path, content: str | None, expected: dict[str, object]
) -> None:
    """Without a policy file, deciding consent opens nothing and loads no policy reader
    (one ``lstat`` says there is none); with one, it is opened once and honoured."""
    policy_file = tmp_path / "policy.toml"
    if content is not None:
        write_policy(policy_file, content)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "OTEL_CLI_TELEMETRY_POLICY": str(policy_file),
        "HOME_DIR": str(tmp_path / "home"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _OPEN_PROBE], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert ast.literal_eval(proc.stdout.strip()) == expected


def test_child_honours_a_policy_installed_after_queueing(tmp_path: Path, home: Path) -> None:
    """An administrator sets ``local`` while traces wait for OTLP: the real exporter child
    sends none of them and counts the drop."""
    file = tmp_path / "etc" / "policy.toml"
    env = {"OTEL_CLI_TELEMETRY_POLICY": str(file)}
    with OtlpReceiver() as receiver:
        block_exporter(home)
        queue_commands(home, env, 2, destinations=[OTLP(receiver.url)])
        unblock(home)
        write_policy(file, 'telemetry = "local"\n')
        proc = run_child(home)
        assert (proc.returncode, proc.stderr) == (0, b"")
        assert receiver.requests == []
    assert spool.entries(home / "spool") == []
    assert delivery.load(home / "delivery.json").dropped == {"consent_local_only": 2}


def test_recheck_without_saved_context_still_reads_the_policy(tmp_path: Path) -> None:
    """A child with no ``consent.json`` still honours the policy and its own env."""
    file = write_policy(tmp_path / "policy.toml", 'telemetry = "off"\n')
    decision = consent.recheck(None, {"OTEL_CLI_TELEMETRY_POLICY": str(file)})
    assert (decision.mode, decision.rule) == ("off", "policy")
    assert consent.recheck(None, {"OTEL_CLI_TELEMETRY_POLICY": str(tmp_path / "no")}).mode == "on"
