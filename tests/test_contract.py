"""The contract between the CLI process and the exporter child: every queued trace carries what
decided it (mode, destination, consent context); each destination has its own queue; consent
is asked again before every attempt; the spool keeps the order traces were queued in."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otel_cli_telemetry import OTLP, PostHog, Telemetry
from otel_cli_telemetry._disk import (
    consent,
    contract,
    destination,
    enqueue,
    inventory,
    spool,
    state,
)
from otel_cli_telemetry._exporter.child import consent_check
from otel_cli_telemetry._exporter.drain import drain
from tests import test_posthog
from tests.collector import OtlpReceiver, Rotel, ScriptedResponse, free_port, rotel_binary_or_skip
from tests.conftest import EXAMPLES, cli_env, wait_for_exporters
from tests.test_posthog import KEY, PostHogServer

#: The local PostHog server of its own tests (a fixture).
server = test_posthog.server

CLI = [sys.executable, str(EXAMPLES / "argparse_cli.py")]


def tasks(env: dict[str, str], *args: str) -> None:
    subprocess.run([*CLI, *args], env=env, capture_output=True, timeout=60, check=True)


def admin(home: Path, service: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", service, "--home", str(home),
         *args],
        env=cli_env(home), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def local_file_commands(home: Path) -> list[str]:
    sink = home / "traces.jsonl"
    if not sink.exists():
        return []
    return [
        span["name"]
        for line in sink.read_text().splitlines()
        for resource in json.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


# --- 1. local mode never reaches the network ------------------------------------------------


@pytest.mark.parametrize("outage", [False, True], ids=["collector-up", "collector-down"])
def test_a_local_command_between_normal_ones_never_reaches_the_network(
    home: Path, reap_exporters: Path, outage: bool
) -> None:
    """``TASKS_TELEMETRY=local`` between two normal commands (real processes, real exporter
    children, rotel): the local trace reaches only the local file, the normal ones only the
    collector, with the collector up, or down during the first two commands and back after."""
    binary = rotel_binary_or_skip()
    port = free_port()
    normal = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}")
    local = {**normal, "TASKS_TELEMETRY": "local"}
    with OtlpReceiver() as receiver:
        collector = Rotel(receiver.url, binary=binary, http_port=port)
        if not outage:
            collector.start()
        try:
            tasks(normal, "add", "one")
            tasks(local, "done", "1")
            wait_for_exporters(home, timeout=20)
            if outage:
                collector.start()
            tasks(normal, "add", "two")
            wait_for_exporters(home, timeout=20)
            # The back-off of the outage may hold the last child: flush what is queued.
            flushed = admin(home, "tasks", "flush")
            assert flushed.returncode == 0, flushed.stdout + flushed.stderr
            receiver.wait_for_spans(2, timeout=20)
            time.sleep(0.3)  # anything more would arrive now
        finally:
            collector.stop()
        sent = sorted(span.name for span in receiver.spans())
    assert sent == ["tasks add", "tasks add"]
    assert local_file_commands(home) == ["tasks done"]
    status = admin(home, "tasks", "status").stdout
    assert f"OTLP http/protobuf to http://127.0.0.1:{port}/v1/traces" in status
    assert "local file (embedded default)" in status


def test_each_trace_records_its_mode_destination_and_consent(home: Path) -> None:
    """A local-mode trace is queued for the local file only, a normal one for its destination
    only, each with the decision that queued it (no secret in it)."""
    listed = [OTLP("http://127.0.0.1:9", headers={"authorization": "Bearer s3cret"})]
    for env in ({}, {"DEMO_TELEMETRY": "local"}):
        telemetry = Telemetry(
            "demo", home=home, env=env, destinations=listed, spawn=lambda *a, **k: None
        )
        with telemetry.command("c"):
            pass
    paths = state.Paths(home, home)
    queues = {q.queue: d for q, d in inventory.recorded(paths)}
    otlp_id = destination.queue_id(queues[""])
    assert queues == {"": queues[""], "file": destination.Destination()}
    assert queues[""].kind == "otlp"
    [sent] = spool.entries(home / "spool")
    [kept] = spool.entries(home / "spool-file")
    assert spool.read_record(sent)[1] == {
        "mode": "on", "queues": [otlp_id],
        "consent": {"env": {}, "env_prefix": "DEMO", "service_name": "demo",
                    "config_file": str(home / "config.toml"), "explicit": None},
    }  # fmt: skip
    kept_decision = spool.read_record(kept)[1]
    assert kept_decision is not None
    assert (kept_decision["mode"], kept_decision["queues"]) == ("local", ["file"])
    assert kept_decision["consent"]["env"] == {"DEMO_TELEMETRY": "local"}
    for entry in (sent, kept):
        assert b"s3cret" not in Path(entry.path).read_bytes()


def test_a_trace_goes_only_to_the_destination_it_was_recorded_for(home: Path) -> None:
    """A trace whose record names another destination is never sent to this one (dropped,
    counted), even if it sits in this destination's queue."""
    with OtlpReceiver() as receiver:
        dest = destination.Destination(kind="otlp", endpoint=receiver.url + "/v1/traces")
        paths = state.Paths(home, home)
        decision = contract.decision_record("on", ["otlp-000000000000"], {"env": {}})
        enqueue.write(paths.spool_dir, b'{"resourceSpans":[]}', decision=decision)
        report = drain(paths, dest, withdrawn=consent_check(paths, dest, env={}))
        assert receiver.requests == []
    assert report.dropped == {consent.MISDIRECTED: 1}


def test_the_narrower_of_then_and_now_decides() -> None:
    """A local trace never goes out even if consent is now on; an "on" trace stays home if
    consent is now local; an earlier version's trace follows the context it was left."""
    context = {"env": {}, "env_prefix": "DEMO", "service_name": "demo", "explicit": None}
    local = contract.decision_record("local", ["otlp-1", "file"], context)
    assert consent.may_send(local, "otlp-1", "otlp", {}) == consent.LOCAL_ONLY
    assert consent.may_send(local, "file", "file", {}) is None
    on = contract.decision_record("on", ["otlp-1"], context)
    assert consent.may_send(on, "otlp-1", "otlp", {}) is None
    assert consent.may_send(on, "otlp-1", "otlp", {"DO_NOT_TRACK": "1"}) == consent.WITHDRAWN
    assert consent.may_send(on, "otlp-1", "otlp", {"DEMO_TELEMETRY": "local"}) == (
        consent.LOCAL_ONLY
    )
    legacy = {**context, "env": {"DEMO_TELEMETRY": "off"}}
    assert consent.may_send(None, "otlp-1", "otlp", {}, legacy) == consent.WITHDRAWN


# --- 2. withdrawal reaches a batch in flight ------------------------------------------------


@pytest.mark.parametrize("action", ["disable", "local", "reset"])
def test_withdrawal_reaches_a_batch_waiting_out_a_retry_after(
    home: Path, reap_exporters: Path, action: str
) -> None:
    """The collector answers 503 with ``Retry-After: 3``; while the real exporter child waits
    it out, ``disable`` / ``local`` / ``reset`` run: the batch is never sent again, and
    nothing the child does afterwards brings the forgotten state back."""
    with OtlpReceiver([ScriptedResponse(503, {"Retry-After": "3"})]) as receiver:
        tasks(cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url), "add", "one")
        end = time.monotonic() + 20
        while not receiver.requests and time.monotonic() < end:
            time.sleep(0.02)
        assert len(receiver.requests) == 1  # the 503: the child now waits 3 s
        result = admin(home, "tasks", action)
        assert result.returncode == 0, result.stderr
        wait_for_exporters(home, timeout=20)
        assert len(receiver.requests) == 1
        assert receiver.spans() == []
    if action == "reset":
        assert "Forgot this installation" in result.stdout
        assert not (home / "delivery.json").exists()
        assert not (home / "state.json").exists()
    else:
        assert "Deleted 1 span(s) (1 trace(s))" in result.stdout
        assert "delivered so far" not in admin(home, "tasks", "status").stdout
    assert spool.entries(home / "spool") == []


# --- 3. the module CLI acts on the queues as they were recorded ------------------------------

_POSTHOG_APP = """
import sys
from otel_cli_telemetry import PostHog, Telemetry

telemetry = Telemetry("phapp", destinations=[PostHog({key!r}, host=sys.argv[1])],
                      spawn=lambda *a, **k: None)
with telemetry.command("run"):
    pass
"""


def test_module_cli_flushes_a_code_configured_posthog_queue_to_posthog(
    home: Path, tmp_path: Path, server: tuple[PostHogServer, str]
) -> None:
    """An app whose PostHog destination is set in code queues 3 traces (no exporter runs);
    ``python -m otel_cli_telemetry --service phapp flush`` sends them to PostHog, not to the
    local file, and ``status`` names the recorded destination."""
    recorder, host = server
    app = tmp_path / "phapp.py"
    app.write_text(_POSTHOG_APP.format(key=KEY))
    env = cli_env(home, PHAPP_TELEMETRY_HOME=str(home))
    for _ in range(3):
        subprocess.run([sys.executable, str(app), host], env=env, timeout=60, check=True)
    assert len(spool.entries(home / "spool")) == 3

    before = admin(home, "phapp", "status").stdout
    flushed = admin(home, "phapp", "flush")

    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    assert "delivered 3" in flushed.stdout
    assert [e["properties"]["command"] for e in recorder.events] == ["phapp run"] * 3
    assert recorder.violations == []
    assert not (home / "traces.jsonl").exists()
    assert f"PostHog at {host}" in before
    assert f"PostHog at {host}" in admin(home, "phapp", "status").stdout


def test_an_upgrade_loses_nothing(home: Path, server: tuple[PostHogServer, str]) -> None:
    """An earlier version's state dir (``destination.json``, bare requests in ``spool/`` and
    ``spool-posthog/``): each trace reaches the destination it was queued for."""
    recorder, host = server
    with OtlpReceiver() as receiver:
        otlp = destination.Destination(kind="otlp", endpoint=receiver.url + "/v1/traces")
        ph = destination.Destination(kind="posthog", endpoint=host + "/batch/", token=KEY)
        # An earlier version's files, as it wrote them.
        spooled = Telemetry("legacy", home=home, env={}, spawn=lambda *a, **k: None)
        with spooled.command("old"):
            pass
        [entry] = spool.entries(home / "spool")
        request = spool.read(entry)
        for name in ("spool", "spool-posthog"):
            (home / name).mkdir(mode=0o700, exist_ok=True)
            (home / name / entry.name).write_text(json.dumps(request))
        for name in ("queue.json",):
            (home / name).unlink()
        state.write_json(
            home / "destination.json", {"destinations": [otlp.to_json(), ph.to_json()]}
        )
        report = Telemetry("legacy", home=home, env={}).flush(timeout=10)
        assert (report.delivered, report.remaining) == (2, 0)
        assert [s.name for s in receiver.spans()] == ["legacy old"]
    assert [e["properties"]["command"] for e in recorder.events] == ["legacy old"]
    assert not (home / "destination.json").exists()


# --- 7. the spool order does not depend on the clock ------------------------------------------


def test_spool_order_survives_a_clock_stepped_back(tmp_path: Path) -> None:
    """A trace queued after the clock stepped back 2 minutes still sorts after the ones
    queued before it, in its own queue and in the queues it is linked into."""
    home = tmp_path / "h"
    now = time.time_ns()
    first = enqueue.write(home / "spool", b"{}", clock=lambda: now)
    other = enqueue.write(home / "spool-b", b"{}", clock=lambda: now + 5)
    later = enqueue.write(
        home / "spool", b"{}", after=[home / "spool-b"], clock=lambda: now - 120 * 10**9
    )
    names = [e.name for e in spool.entries(home / "spool")]
    assert names == [Path(first).name, Path(later).name]
    assert Path(later).name > Path(other).name
    # Its age is still read from when it was queued.
    assert spool.entries(home / "spool")[1].created_ns == now - 120 * 10**9


def test_alias_is_sent_before_the_events_after_a_clock_step_back(
    home: Path, server: tuple[PostHogServer, str]
) -> None:
    """Login queues ``$create_alias``; the clock then steps back 2 minutes and a command is
    queued: PostHog receives the alias first."""
    recorder, host = server
    telemetry = Telemetry(
        "assembly", home=home, env={}, destinations=[PostHog(KEY, host=host)],
        identity_linking=True, spawn=lambda *a, **k: None,
    )  # fmt: skip
    assert telemetry.link_identity("user-42")
    [alias] = spool.entries(home / "spool")  # queued with its decision, its queue recorded
    alias_decision = spool.read_record(alias)[1]
    assert alias_decision is not None
    assert alias_decision["queues"] == [destination.queue_id(telemetry._resolved_destinations()[0])]
    assert inventory.recorded(state.Paths(home, home))[0][1].kind == "posthog"
    with telemetry.command("work"):
        pass
    [event] = [e for e in spool.entries(home / "spool") if b"$create_alias" not in _bytes(e)]
    payload = _bytes(event)
    Path(event.path).unlink()
    back = time.time_ns() - 120 * 10**9
    enqueue.write(home / "spool", payload, clock=lambda: back)  # the clock stepped back

    report = telemetry.flush(timeout=10)

    assert report.delivered == 2
    assert [e["event"] for e in recorder.events] == ["$create_alias", "cli command executed"]
    assert recorder.events[1]["distinct_id"] == "user-42"


def _bytes(entry: spool.Entry) -> bytes:
    return Path(entry.path).read_bytes()


# --- 5. public, typed, immutable records -------------------------------------------------------


def test_admin_methods_return_public_immutable_records(home: Path) -> None:
    """``disable()`` returns the exported ``Change``, ``flush()`` the exported ``FlushReport``;
    neither can be changed, and ``UnsafeHomeError`` is exported for ``enable()``'s callers."""
    import dataclasses

    import otel_cli_telemetry
    from otel_cli_telemetry import Change, FlushReport, UnsafeHomeError

    telemetry = Telemetry("demo", home=home, env={}, spawn=lambda *a, **k: None)
    with telemetry.command("c"):
        pass
    report = telemetry.flush(timeout=5)
    assert type(report) is FlushReport
    assert (report.delivered, dict(report.dropped), report.remaining) == (1, {}, 0)
    change = telemetry.disable()
    assert type(change) is Change
    assert (change.enabled, change.mode, change.rule, change.deleted_spans) == (
        False, "off", "config", 0,
    )  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.deleted_spans = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.delivered = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        report.dropped["x"] = 1  # type: ignore[index]
    assert {"Change", "FlushReport", "Paths", "QueueStatus", "UnsafeHomeError"} <= set(
        otel_cli_telemetry.__all__
    )
    [queue] = telemetry.status().queues
    assert type(queue) is otel_cli_telemetry.QueueStatus
    assert (queue.destination, queue.waiting, queue.delivered) == (
        "local file (embedded default)", 0, 1,
    )  # fmt: skip
    with pytest.raises(TypeError):
        queue.delivery["delivered"] = 2  # type: ignore[index]
    paths = telemetry.paths
    assert type(paths) is otel_cli_telemetry.Paths
    assert (paths.home, paths.config_file) == (str(home), str(home / "config.toml"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        paths.home = "/tmp"  # type: ignore[misc]
    home.chmod(0o777)  # others could swap the state dir
    try:
        with pytest.raises(UnsafeHomeError):
            telemetry.enable()
    finally:
        home.chmod(0o700)


# --- 4. one contract, and the worlds it separates -----------------------------------------------

PACKAGE = Path(__file__).resolve().parent.parent / "otel_cli_telemetry"


def _imports_of(file: Path) -> set[str]:
    """Every ``otel_cli_telemetry`` module ``file`` imports, inside functions included."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {name for name in found if name.startswith("otel_cli_telemetry")}


def test_the_exporter_and_the_disk_contract_never_import_the_cli_process() -> None:
    """``_exporter`` and ``_disk`` import nothing of ``_process`` or ``_admin``; the contract
    module imports nothing of the package; the consent function imports only ``_disk``."""
    for world in ("_exporter", "_disk"):
        for file in (PACKAGE / world).rglob("*.py"):
            bad = {
                n for n in _imports_of(file)
                if n.startswith(("otel_cli_telemetry._process", "otel_cli_telemetry._admin"))
            }  # fmt: skip
            assert not bad, f"{file.relative_to(PACKAGE)} imports {sorted(bad)}"
    assert _imports_of(PACKAGE / "_disk" / "contract.py") == set()
    leaves = ("otel_cli_telemetry._disk", "otel_cli_telemetry._record")
    assert all(n.startswith(leaves) for n in _imports_of(PACKAGE / "_disk" / "consent.py"))
