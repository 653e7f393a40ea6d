"""Three modes (on, local, off), withdrawal that reaches the queue, forget-me (reset).

Real processes where a file or the exporter child is involved: the admin commands run as
``python -m otel_cli_telemetry``, the exporter as ``python -m otel_cli_telemetry._exporter.child``
against an in-test OTLP receiver on loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_cli_telemetry import OTLP, Datadog, Telemetry
from otel_cli_telemetry._disk import delivery, spool, state
from otel_cli_telemetry._process import consent, launcher
from tests.collector import OtlpReceiver
from tests.conftest import LINGER_ENV, ROOT, TEST_LINGER_S, cli_env


def decide(env: dict[str, str], config_file: Path | None = None) -> consent.Decision:
    return consent.resolve(env, env_prefix="DEMO", config_file=config_file, service_name="demo")


@pytest.mark.parametrize(
    ("value", "mode"),
    [("on", "on"), ("local", "local"), ("LOCAL", "local"), ("off", "off"), ("1", "on")],
)
def test_mode_from_the_environment(value: str, mode: str) -> None:
    """``{PREFIX}_TELEMETRY`` sets the mode, and the decision names the variable."""
    decision = decide({"DEMO_TELEMETRY": value})
    assert (decision.mode, decision.rule) == (mode, "env")
    assert "DEMO_TELEMETRY" in decision.detail


def test_an_unknown_mode_word_is_off() -> None:
    """A word that is not on, local or off errs on the side of the user who set it."""
    decision = decide({"DEMO_TELEMETRY": "maybe"})
    assert (decision.enabled, decision.mode, decision.rule) == (False, "off", "env")


@pytest.mark.parametrize(
    "switch",
    [
        {"DEMO_TELEMETRY_DISABLED": "1"},
        {"DO_NOT_TRACK": "1"},
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_todays_switches_beat_the_mode_variable(switch: dict[str, str], tmp_path: Path) -> None:
    """Every opt-out that worked before still turns everything off, even over
    ``{PREFIX}_TELEMETRY=on`` and a persisted ``local``."""
    config_file = tmp_path / "config.toml"
    consent.persist(config_file, "local")
    decision = decide({**switch, "DEMO_TELEMETRY": "on"}, config_file)
    assert (decision.enabled, decision.mode, decision.rule) == (False, "off", "env")


def test_precedence_env_over_persisted(tmp_path: Path) -> None:
    """The environment beats the persisted choice both ways; the file's ``local`` is read
    as off by an older version (``enabled = false``)."""
    config_file = tmp_path / "config.toml"
    consent.persist(config_file, "local")
    assert (decide({}, config_file).mode, decide({}, config_file).rule) == ("local", "config")
    assert state.read_config(config_file) == {"enabled": False, "mode": "local"}
    assert decide({"DEMO_TELEMETRY": "on"}, config_file).mode == "on"
    assert decide({"DEMO_TELEMETRY_DISABLED": "0"}, config_file).mode == "on"
    consent.persist(config_file, False)
    assert decide({"DEMO_TELEMETRY": "local"}, config_file).mode == "local"
    consent.persist(config_file, True)
    assert state.read_config(config_file) == {"enabled": True}


def test_local_mode_sends_to_the_file_sink_only(home: Path) -> None:
    """In local mode an app configured for OTLP, Datadog and PostHog queues for the local
    file sink alone."""
    telemetry = Telemetry(
        "demo",
        home=home,
        env={"DEMO_TELEMETRY": "local"},
        destinations=[OTLP("http://127.0.0.1:9"), Datadog("pub" + "0" * 32)],
        spawn=lambda *a, **k: None,
    )
    assert telemetry.consent().mode == "local"
    [only] = telemetry.destinations()
    assert only.kind == "file"
    status = telemetry.status()
    assert status.mode == "local"
    assert "mode: local" in status.lines()


def queue_commands(home: Path, env: dict[str, str], n: int, **kwargs: object) -> None:
    """Spool ``n`` real command spans (one child span each) with the exporter held back."""
    telemetry = Telemetry("demo", home=home, env=env, spawn=lambda *a, **k: None, **kwargs)  # type: ignore[arg-type]
    for i in range(n):
        with telemetry.command(f"c{i}"), telemetry.tracer.start_as_current_span("inner"):
            pass


def admin(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "demo", "--home", str(home),
         *args],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


def block_exporter(home: Path) -> None:
    """A back-off far in the future: no command starts an exporter."""
    state.ensure_dir(home)
    state.write_json(home / "delivery.json", {"next_attempt_at": 4e9, "failures": 3})


@pytest.mark.parametrize("command", ["disable", "local"])
def test_withdrawal_deletes_the_queue_and_counts_spans(home: Path, command: str) -> None:
    """Spans queued while the exporter is held back are deleted by ``disable`` / ``local``
    (a real process), which says how many: 3 commands of 2 spans each."""
    block_exporter(home)
    queue_commands(home, {}, 3, destinations=[OTLP("http://127.0.0.1:9")])
    assert len(spool.entries(home / "spool")) == 3

    result = admin(home, command)

    assert result.returncode == 0, result.stderr
    assert "Deleted 6 span(s) (3 trace(s))" in result.stdout
    assert spool.entries(home / "spool") == []
    mode = {"disable": "off", "local": "local"}[command]
    assert consent.from_config(home / "config.toml").mode == mode


def test_local_keeps_what_is_queued_for_the_local_file(home: Path) -> None:
    """``local`` deletes only what was going to be sent: traces queued for the embedded
    file sink stay, and reach it."""
    block_exporter(home)
    queue_commands(home, {}, 2)
    result = admin(home, "local")
    assert "Nothing was waiting to be sent." in result.stdout
    assert len(spool.entries(home / "spool")) == 2


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as server:
        yield server


def run_child(home: Path, **extra_env: str) -> subprocess.CompletedProcess[bytes]:
    """The real exporter child, as the launcher starts it (reduced env, cwd /, -P)."""
    env = launcher.child_env(
        {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), LINGER_ENV: TEST_LINGER_S}, home
    )
    env.update(extra_env)
    return subprocess.run(
        launcher.argv(), env=env, cwd="/", timeout=60, capture_output=True, check=False
    )


def unblock(home: Path) -> None:
    state.write_json(home / "delivery.json", {})


def test_child_sends_what_consent_allows(home: Path, receiver: OtlpReceiver) -> None:
    """Control for the next tests: with consent unchanged, the real child delivers."""
    block_exporter(home)
    queue_commands(home, {}, 2, destinations=[OTLP(receiver.url)])
    unblock(home)
    proc = run_child(home)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert len(receiver.spans()) == 4
    assert spool.entries(home / "spool") == []


@pytest.mark.parametrize(
    ("withdraw", "reason"),
    [
        ("config_off", "consent_withdrawn"),
        ("config_local", "consent_local_only"),
        ("env_given", "consent_withdrawn"),
    ],
)
def test_child_drops_what_it_may_no_longer_send(
    home: Path, receiver: OtlpReceiver, withdraw: str, reason: str
) -> None:
    """Consent withdrawn after the traces were queued (the persisted choice changed behind
    the queue, or the child is given ``DEMO_TELEMETRY=off``): the real child re-reads it
    before the batch, sends nothing, deletes the queue and counts the drop."""
    block_exporter(home)
    queue_commands(home, {}, 3, destinations=[OTLP(receiver.url)])
    unblock(home)
    extra: dict[str, str] = {}
    if withdraw == "config_off":
        consent.persist(home / "config.toml", "off")
    elif withdraw == "config_local":
        consent.persist(home / "config.toml", "local")
    else:
        extra["DEMO_TELEMETRY"] = "off"

    proc = run_child(home, **extra)

    assert (proc.returncode, proc.stderr) == (0, b"")
    assert receiver.requests == []
    assert spool.entries(home / "spool") == []
    counted = delivery.load(home / "delivery.json")
    assert counted.dropped == {reason: 3}
    assert counted.unreported == {}  # never announced on a later span


def test_child_honours_the_env_the_command_had(home: Path, receiver: OtlpReceiver) -> None:
    """A command that ran with ``DEMO_TELEMETRY_DISABLED=0`` over a persisted "off" told
    the child so: its traces are sent (env beats the persisted choice, as in the CLI)."""
    consent.persist(home / "config.toml", "off")
    block_exporter(home)
    queue_commands(home, {"DEMO_TELEMETRY_DISABLED": "0"}, 1, destinations=[OTLP(receiver.url)])
    unblock(home)
    recorded = spool.read_record(spool.entries(home / "spool")[0])[1]
    assert recorded is not None
    assert recorded["consent"]["env"] == {"DEMO_TELEMETRY_DISABLED": "0"}
    proc = run_child(home)
    assert proc.returncode == 0
    assert len(receiver.spans()) == 2


def test_flush_refuses_to_send_after_withdrawal(home: Path, receiver: OtlpReceiver) -> None:
    """``flush`` in the foreground applies the same check: nothing reaches the receiver."""
    block_exporter(home)
    queue_commands(home, {}, 2, destinations=[OTLP(receiver.url)])
    telemetry = Telemetry(
        "demo", home=home, env={"DEMO_TELEMETRY": "off"}, destinations=[OTLP(receiver.url)]
    )
    report = telemetry.flush(timeout=5)
    assert report.dropped == {"consent_withdrawn": 2}
    assert receiver.requests == []


def test_reset_forgets_the_installation(home: Path) -> None:
    """``reset`` (a real process) deletes the id, any linked account, the queue, the local
    sink and the delivery state, keeps the choice, and a new id is minted on the next
    command; ``status`` lists what is kept and where."""
    telemetry = Telemetry(
        "demo", home=home, env={}, identity_linking=True, spawn=lambda *a, **k: None
    )
    block_exporter(home)
    with telemetry.command("a"):
        pass
    telemetry.link_identity("account-1")
    old_id = json.loads((home / "state.json").read_text())["installation_id"]
    (home / "traces.jsonl").write_text("{}\n")
    (home / "traces.jsonl").chmod(0o600)
    consent.persist(home / "config.toml", "local")
    assert "the installation id" in "\n".join(telemetry.status().lines())

    result = admin(home, "reset")

    assert result.returncode == 0, result.stderr
    assert "state.json" in result.stdout
    left = sorted(p.name for p in home.iterdir() if not p.name.endswith(".lock"))
    assert "state.json" not in left
    assert "traces.jsonl" not in left
    assert "delivery.json" not in left
    assert spool.entries(home / "spool") == []
    assert "config.toml" in left
    assert consent.from_config(home / "config.toml").mode == "local"
    status = "\n".join(Telemetry("demo", home=home, env={}).status().lines())
    assert f"your choice and the notice shown: {home / 'config.toml'}" in status
    assert "installation id" not in status

    fresh = Telemetry("demo", home=home, env={}, identity_linking=True, spawn=lambda *a, **k: None)
    with fresh.command("b"):
        pass
    data = json.loads((home / "state.json").read_text())
    assert data["installation_id"] != old_id
    assert not data.get("linked_principal_id")


@pytest.mark.parametrize("command", ["status", "local", "disable", "reset", "disclosure"])
def test_admin_commands_work_with_telemetry_off_and_record_nothing(
    home: Path, command: str
) -> None:
    """With ``DO_NOT_TRACK=1`` every admin command works, and none queues or starts
    anything."""
    result = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "demo", "--home", str(home),
         command],
        env=cli_env(home, DO_NOT_TRACK="1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert not (home / "spool").exists()
    assert not (home / "traces.jsonl").exists()
    assert not (home / "exporter.pid").exists()


def test_mode_off_costs_what_any_opt_out_costs(tmp_path: Path) -> None:
    """``{PREFIX}_TELEMETRY=off`` is an opt-out like the others: only the light entry is
    imported, nothing touched, no policy read (the probe of tests/test_imports.py)."""
    from tests.test_imports import LIGHT_ENTRY, run_probe

    report = run_probe(tmp_path, {"IMP_TELEMETRY": "off", "OTEL_CLI_TELEMETRY_POLICY": "/x"})
    assert (report["enabled"], report["rule"]) == (False, "env")
    assert set(report["added"]) <= LIGHT_ENTRY
    assert report["events"] == []


@pytest.mark.parametrize(
    ("script", "first", "withdraw"),
    [
        ("typer_cli.py", ["transcribe", "a.wav"], "disable"),
        ("click_cli.py", ["add", "x"], "local"),
    ],
)
def test_example_clis_withdraw_through_their_consent_commands(
    home: Path, dead_url: str, script: str, first: list[str], withdraw: str
) -> None:
    """Real example CLIs (typer, click) queue spans for a dead endpoint while backing off;
    their own ``telemetry disable`` / ``telemetry local`` empties the queue and says how
    many spans it deleted; the consent command itself records nothing."""
    from tests.conftest import run_example

    block_exporter(home)
    env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=dead_url)
    for _ in range(2):
        assert run_example(script, *first, env=env).returncode == 0
    queued = spool.entries(home / "spool")
    assert len(queued) == 2
    spans = sum(
        len(scope["spans"])
        for entry in queued
        for resource in spool.read(entry)["resourceSpans"]
        for scope in resource["scopeSpans"]
    )

    result = run_example(script, "telemetry", withdraw, env=env)

    assert result.returncode == 0, result.stderr
    assert f"Deleted {spans} span(s) (2 trace(s))" in result.stdout
    assert spool.entries(home / "spool") == []
    status = run_example(script, "telemetry", "status", env=env)
    assert f"mode: {'off' if withdraw == 'disable' else 'local'}" in status.stdout
    assert spool.entries(home / "spool") == []  # ``status`` recorded nothing either
