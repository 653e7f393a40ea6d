"""Issue 22, the CLI-process side: limits that lost data silently or recorded it wrong, and
settings that leaked or went to the wrong place.

- spans past the per-trace cap are counted (``span_cap``, as spans) and announced;
- the exit code recorded is the one the process exits with; span names are capped;
- the CLI span's required attributes survive any attribute count limit;
- admin output never shows a URL's userinfo or query values;
- an endpoint or protocol that cannot be used is reported, never replaced by the local file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_cli_telemetry import OTLP, Datadog, Telemetry
from otel_cli_telemetry._disk import delivery, destination, inventory, spool, urls
from otel_cli_telemetry._exporter.child import run_child
from otel_cli_telemetry._process import command, config
from otel_cli_telemetry.testing import capture_spans
from tests.conftest import cli_env, wait_for_exporters
from tests.test_datadog import (
    TOKEN,
    Intake,
    intake,  # noqa: F401 - the fixture (a local Datadog intake)
)
from tests.test_datadog import spool_commands as spool_with
from tests.test_exporter import paths_for
from tests.test_grpc import GrpcCollector

REQUIRED = {"process.executable.name", "process.pid", "process.exit.code"}


def run_script(
    tmp_path: Path, body: str, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run ``body`` as a real CLI (``assembly``) in a subprocess."""
    script = tmp_path / "cli.py"
    script.write_text(
        "import sys\nfrom otel_cli_telemetry import Telemetry\n"
        'telemetry = Telemetry("assembly", version="1.0")\n' + textwrap.dedent(body)
    )
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def settled(home: Path, done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``done()`` (what the detached exporter delivers), then for the exporter to
    exit: right after a command its child may not be visible as one yet."""
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        time.sleep(0.05)
    wait_for_exporters(home)
    assert done()


def file_sink_spans(home: Path) -> list[dict[str, Any]]:
    """Every span the local file sink holds, in order."""
    sink = home / "traces.jsonl"
    if not sink.exists():
        return []
    return [
        span
        for line in sink.read_text().splitlines()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]


def values_of(span: dict[str, Any]) -> dict[str, Any]:
    """A span's attributes, key to the OTLP/JSON value's payload."""
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def captured_spans(captured: Any) -> list[dict[str, Any]]:
    return [
        span
        for request in captured.requests
        for rs in request["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]


# --- 6. spans past the per-trace cap ------------------------------------------------------


def test_spans_past_the_per_trace_cap_are_counted_and_announced(
    tmp_path: Path, home: Path, reap_exporters: Path
) -> None:
    """A command that makes 2,000 child spans delivers 512 of them; the other 1,488 are
    counted as spans (``span_cap``) in the delivery state, shown by ``status``, and
    announced once on a delivered command span (here its own, counted before it was
    spooled), never as lost traces."""
    env = cli_env(home)
    body = """
        with telemetry.command(sys.argv[1]):
            for _ in range(int(sys.argv[2])):
                telemetry.tracer.start_span("child").end()
    """
    assert run_script(tmp_path, body, env, "many", "2000").returncode == 0
    settled(home, lambda: len(file_sink_spans(home)) == 513)
    state = delivery.load(home / "delivery.json")
    assert state.dropped == {"span_cap": 1488}
    assert state.unreported == {}  # announced
    spans = file_sink_spans(home)
    assert len(spans) == 513  # 512 children and the command span
    [root] = [s for s in spans if s["name"] == "assembly many"]
    values = values_of(root)
    assert values["cli_telemetry.dropped_spans"] == "1488"
    assert "cli_telemetry.dropped_traces" not in values  # no trace was lost
    assert values["cli_telemetry.dropped_reasons"] == {"values": [{"stringValue": "span_cap=1488"}]}
    status = Telemetry("assembly", home=home, env=env).status()
    assert "dropped: span_cap=1488 spans" in status.lines()

    assert run_script(tmp_path, body, env, "next", "0").returncode == 0
    settled(home, lambda: len(file_sink_spans(home)) == 514)
    [after] = [s for s in file_sink_spans(home) if s["name"] == "assembly next"]
    assert not any(k.startswith("cli_telemetry.dropped") for k in values_of(after))


def test_a_span_count_waits_in_one_tally_when_the_state_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When ``delivery.json`` cannot be written (a full disk), a count of 9,487 spans waits
    in one tally file (not 9,487 files, not cut at 100), which ``status`` and the next
    write count whole."""
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    target = state_dir / "delivery.json"

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(delivery.state, "write_json", full_disk)
        delivery.record_drops(target, state_dir / "state.lock", {"span_cap": 9487})
    tallies = [p.name for p in state_dir.iterdir() if p.name.startswith(delivery.TALLY_PREFIX)]
    assert len(tallies) == 1
    assert not delivery._unwritten.get(str(target))  # counted on disk, not also in memory
    assert delivery.load(target, with_tallies=True).dropped == {"span_cap": 9487}
    delivery.record_drops(target, state_dir / "state.lock", {"cap_count": 1})
    assert delivery.load(target).dropped == {"span_cap": 9487, "cap_count": 1}
    assert delivery.traces_and_spans({"span_cap": 3, "cap_count": 2}) == (2, 3)


# --- 10. the exit code the process exits with; span names capped ----------------------------


@pytest.mark.parametrize(
    ("code", "posix", "windows"),
    [
        (0, 0, 0),
        (3, 3, 3),
        (300, 44, 300),
        (256, 0, 256),
        (-1, 255, 0xFFFFFFFF),
        (2**32 + 3, 3, 3),
        (2**63, 255, 0xFFFFFFFF),  # outside a 64-bit integer: CPython exits with -1
        (-(2**70), 255, 0xFFFFFFFF),
    ],
)
def test_process_exit_code_follows_cpython(code: int, posix: int, windows: int) -> None:
    """``SystemExit(code)`` is recorded as the status the parent reads, per platform."""
    assert command.process_exit_code(code, "linux") == posix
    assert command.process_exit_code(code, "darwin") == posix
    assert command.process_exit_code(code, "win32") == windows


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX exit statuses")
@pytest.mark.parametrize("code", [300, -1, 2**63, 256])
def test_system_exit_records_the_code_the_process_exits_with(
    tmp_path: Path, home: Path, reap_exporters: Path, code: int
) -> None:
    """A real CLI that raises ``SystemExit(300)`` exits 44, and its span says 44 (256 exits
    0: a success)."""
    body = """
        with telemetry.command("exit"):
            raise SystemExit(int(sys.argv[1]))
    """
    result = run_script(tmp_path, body, cli_env(home), str(code))
    settled(home, lambda: len(file_sink_spans(home)) == 1)
    [span] = file_sink_spans(home)
    values = values_of(span)
    assert result.returncode == command.process_exit_code(code)
    assert values["process.exit.code"] == str(result.returncode)
    assert ("error.type" in values) == (result.returncode != 0)
    assert values["cli_telemetry.outcome"] == ("success" if result.returncode == 0 else "error")


@pytest.mark.parametrize("sdk", [False, True], ids=["light", "sdk"])
def test_span_names_are_capped_like_attribute_values(home: Path, sdk: bool) -> None:
    """A 200,007-character command or child span name is cut to the value length limit
    (1024 by default, ``OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`` when set)."""
    for env, cap in (({}, 1024), ({"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "10"}, 10)):
        telemetry = Telemetry("assembly", home=home, env=env)
        with capture_spans() as captured, telemetry.command("x" * 200_000):
            if sdk:
                telemetry.tracer.start_span("y" * 200_007).end()
        spans = captured_spans(captured)
        assert len(spans) == (2 if sdk else 1)
        assert all(len(s["name"]) == cap for s in spans)


# --- 9. the required attributes survive any attribute limit ---------------------------------


@pytest.mark.parametrize("limit", ["0", "1", "3"])
@pytest.mark.parametrize("sdk", [False, True], ids=["light", "sdk"])
def test_required_attributes_survive_any_attribute_count_limit(
    home: Path, sdk: bool, limit: str
) -> None:
    """``OTEL_ATTRIBUTE_COUNT_LIMIT=0..3`` still sends ``process.executable.name``,
    ``process.pid``, ``process.exit.code`` and ``error.type``; what the limit evicted
    besides them stays counted in ``droppedAttributesCount``."""
    telemetry = Telemetry("assembly", home=home, env={"OTEL_ATTRIBUTE_COUNT_LIMIT": limit})

    def fail() -> None:
        with telemetry.command("fail", attributes={"a": 1, "b": 2}):
            if sdk:
                telemetry.tracer.start_span("child", attributes={"c": 1, "d": 2}).end()
            raise SystemExit(3)

    with capture_spans() as captured, pytest.raises(SystemExit):
        fail()
    spans = captured_spans(captured)
    [root] = [s for s in spans if s["name"] == "assembly fail"]
    values = values_of(root)
    assert REQUIRED | {"error.type"} <= set(values)
    assert values["process.exit.code"] == "3"
    others = len(values) - 4
    assert others <= int(limit)
    # 2 author attributes + outcome + duration + the 4 required ones were set
    assert root.get("droppedAttributesCount", 0) == 8 - len(values)
    if sdk:  # other spans keep the limit as it is
        [child] = [s for s in spans if s["name"] == "child"]
        assert len(child["attributes"]) == min(int(limit), 2)


def test_a_real_cli_keeps_its_required_attributes_under_a_limit_of_3(
    tmp_path: Path, home: Path, reap_exporters: Path
) -> None:
    """The issue's case, end to end: ``OTEL_ATTRIBUTE_COUNT_LIMIT=3`` in a real CLI process,
    span read back from the local file sink."""
    body = """
        with telemetry.command("run"):
            pass
    """
    env = cli_env(home, OTEL_ATTRIBUTE_COUNT_LIMIT="3")
    assert run_script(tmp_path, body, env).returncode == 0
    settled(home, lambda: len(file_sink_spans(home)) == 1)
    [span] = file_sink_spans(home)
    values = values_of(span)
    assert set(values) >= REQUIRED
    assert values["process.executable.name"] == "cli.py"
    assert "error.type" not in values


# --- 7. no URL secret in admin output; a base URL with a query stays valid ----------------

SECRET_ENDPOINT = "https://alice:S3cretPass@otlp.example.com/?api-key=QUERYSECRET"
SECRETS = ("alice", "S3cretPass", "QUERYSECRET", "pr0xyPass")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (SECRET_ENDPOINT, "https://otlp.example.com/?api-key=***"),
        ("http://u@h:4318/v1/traces?a=1&b=&c#frag", "http://h:4318/v1/traces?a=***&b=***&***#***"),
        ("u:p@collector:4317", "collector:4317"),
        ("https://h/p/q", "https://h/p/q"),
        ("", ""),
        ("https://a@b@c/?=x", "https://c/?=***"),
    ],
)
def test_redact_strips_userinfo_and_query_values(url: str, shown: str) -> None:
    """One function hides userinfo, query values and fragments; it never raises."""
    assert urls.redact(url) == shown
    assert urls.redact_text(f"to {url}: (x)") == (
        f"to {shown}: (x)" if "://" in url else f"to {url}: (x)"
    )


def test_a_base_url_with_a_query_gets_its_path_before_the_query() -> None:
    """``OTEL_EXPORTER_OTLP_ENDPOINT=https://h/?k=v`` sends to ``https://h/v1/traces?k=v``,
    a valid URL (the path used to land after the query)."""
    dest = OTLP().resolve({config.OTLP_ENDPOINT: SECRET_ENDPOINT})
    assert dest is not None
    assert dest.endpoint == (
        "https://alice:S3cretPass@otlp.example.com/v1/traces?api-key=QUERYSECRET"
    )
    assert urls.with_path("https://h/base/?k=v#f", "v1/traces") == "https://h/base/v1/traces?k=v#f"
    traces = OTLP().resolve({config.OTLP_TRACES_ENDPOINT: "https://h/custom?k=v"})
    assert traces is not None
    assert traces.endpoint == "https://h/custom?k=v"  # the traces one is used as given


def test_status_and_describe_never_show_url_secrets(home: Path) -> None:
    """``status`` (and each destination's ``describe()``) names the OTLP endpoint and the
    Datadog proxy without their userinfo or query values."""
    env = {
        config.OTLP_ENDPOINT: SECRET_ENDPOINT,
        "ASSEMBLY_TELEMETRY_DATADOG_CLIENT_TOKEN": TOKEN,
        "ASSEMBLY_TELEMETRY_DATADOG_URL": "https://dd:pr0xyPass@proxy.example.com/intake",
    }
    telemetry = Telemetry("assembly", home=home, env=env)
    described = [d.describe() for d in telemetry.destinations()]
    assert described == [
        "OTLP http/protobuf to https://otlp.example.com/v1/traces?api-key=***",
        "Datadog logs intake at https://proxy.example.com/intake (client token)",
    ]
    text = "\n".join(telemetry.status().lines())
    assert "https://otlp.example.com/v1/traces?api-key=***" in text
    reprs = [
        repr(OTLP(SECRET_ENDPOINT)),
        repr(Datadog(TOKEN, proxy_url="https://dd:pr0xyPass@proxy.example.com/intake")),
        *(repr(d) for d in telemetry.destinations()),
    ]
    assert "'https://otlp.example.com/?api-key=***'" in reprs[0]
    for shown in (text, *reprs):
        assert not [secret for secret in SECRETS if secret in shown]


def test_show_flush_and_debug_print_no_url_secret(
    tmp_path: Path, home: Path, reap_exporters: Path
) -> None:
    """``show`` (text and ``--json``), ``flush`` and the debug output of a real CLI never
    print a URL's userinfo or query values, even one an author put in an attribute."""
    body = """
        with telemetry.command("run", attributes={"target": sys.argv[1]}):
            pass
    """
    secret_url = "https://alice:S3cretPass@example.com/x?token=QUERYSECRET"
    debug = run_script(
        tmp_path,
        body,
        cli_env(
            home,
            ASSEMBLY_TELEMETRY_DEBUG="1",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/xml",
            OTEL_EXPORTER_OTLP_ENDPOINT=SECRET_ENDPOINT,
        ),
        secret_url,
    )
    assert "https://example.com/x?token=***" in debug.stderr
    assert "not sent: unsupported OTLP protocol 'http/xml'" in debug.stderr
    assert not [secret for secret in SECRETS if secret in debug.stderr]

    # An unusable destination: the trace waits in its queue, where show and flush see it.
    env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT="otlp.example.com:4318")
    assert run_script(tmp_path, body, env, secret_url).returncode == 0
    module = [sys.executable, "-m", "otel_cli_telemetry", "--service", "assembly"]
    for args in (["show", "-v"], ["show", "--json"], ["flush"], ["status"]):
        shown = subprocess.run(
            [*module, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert not [secret for secret in SECRETS if secret in shown.stdout + shown.stderr]
        if args[0] == "show":
            assert "example.com/x" in shown.stdout
        if args == ["flush"]:
            assert shown.returncode == 1  # still waiting, and why
            assert "still waiting 1 (last error: the endpoint is not an http(s) URL" in (
                shown.stdout
            )


# --- 8. an endpoint or protocol the user set is never replaced by the local file ----------


@pytest.mark.parametrize(
    ("variables", "why"),
    [
        ({config.OTLP_ENDPOINT: "otlp.example.com:4318"}, "not an http(s) URL"),
        (
            {config.OTLP_ENDPOINT: "http://127.0.0.1:4318", config.OTLP_PROTOCOL: "http/xml"},
            "unsupported OTLP protocol 'http/xml'",
        ),
        (
            {config.OTLP_ENDPOINT: "127.0.0.1:4317/v1/traces", config.OTLP_PROTOCOL: "grpc"},
            "not a gRPC endpoint",
        ),
    ],
    ids=["no-scheme", "http-xml", "grpc-host-port-path"],
)
def test_an_unusable_endpoint_keeps_its_traces_waiting_and_says_why(
    tmp_path: Path, home: Path, reap_exporters: Path, variables: dict[str, str], why: str
) -> None:
    """A real CLI with an endpoint or protocol that cannot be used: nothing goes to the
    local file, no exporter starts for it, the trace waits in the queue (counted), and
    ``status`` says why; the command's result is untouched."""
    body = """
        with telemetry.command("run"):
            print("done")
    """
    env = cli_env(home, **variables)
    result = run_script(tmp_path, body, env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "done\n", "")
    wait_for_exporters(home)
    assert not (home / "traces.jsonl").exists()
    assert len(spool.entries(home / "spool")) == 1
    assert delivery.load(home / "delivery.json").exporter_runs == 0
    lines = Telemetry("assembly", home=home, env=env).status().lines()
    [destination] = [line for line in lines if line.startswith("destination: ")]
    assert "local file" not in destination
    assert why in destination
    assert "spooled traces waiting: 1" in lines


def test_an_unusable_destination_blocks_only_its_own_queue(
    home: Path,
    intake: tuple[Intake, str],  # noqa: F811 - the fixture imported above
) -> None:
    """Beside a usable destination (Datadog), the queue of an unusable OTLP endpoint is never
    drained (no attempt) while the other is delivered; ``flush`` reports it waiting, and
    why; its queue's record reads back as it was."""
    server, url = intake
    telemetry = spool_with(
        home, ["a"], destinations=[Datadog(TOKEN, proxy_url=url), OTLP("otlp.example.com:4318")]
    )
    unusable, datadog = telemetry._resolved_destinations()
    assert (unusable.kind, datadog.kind) == ("otlp", "datadog")
    assert unusable.problem is not None
    recorded = {d.kind: d for _, d in inventory.recorded(paths_for(home))}
    assert recorded == {"otlp": unusable, "datadog": datadog}

    run_child(paths_for(home), [unusable, datadog], linger_s=0)
    assert [log["command"] for log in server.logs] == ["assembly a"]
    assert len(spool.entries(home / "spool")) == 1  # the OTLP queue waits
    assert delivery.load(home / "delivery.json").attempts == 0
    report = telemetry.flush(timeout=5)
    assert (report.remaining, report.last_error) == (1, unusable.problem)
    with pytest.raises(ValueError, match="endpoint"):
        destination.Destination.from_json({**unusable.to_json(), "problem": None})


@pytest.fixture
def grpc_collector() -> Iterator[GrpcCollector]:
    """test_grpc's scripted OTLP/gRPC server on 127.0.0.1, stopped when the test ends."""
    server = GrpcCollector().start()
    try:
        yield server
    finally:
        server.stop()


def test_a_grpc_endpoint_with_a_path_or_query_is_delivered(
    tmp_path: Path, home: Path, reap_exporters: Path, grpc_collector: GrpcCollector
) -> None:
    """``OTEL_EXPORTER_OTLP_ENDPOINT=http://host:port/some/path?x=1`` with gRPC: the path
    and query are ignored, as the Python SDK does, and the span is delivered there."""
    body = """
        with telemetry.command("run"):
            pass
    """
    env = cli_env(
        home,
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"{grpc_collector.url}/some/path?x=1",
    )
    collector = grpc_collector
    assert run_script(tmp_path, body, env).returncode == 0
    settled(home, lambda: bool(collector.received))
    assert [r.span_names() for r in collector.received] == [["assembly run"]]
    assert not (home / "traces.jsonl").exists()
    status = Telemetry("assembly", home=home, env=env).status()
    assert f"destination: OTLP grpc to {collector.url}" in status.lines()


def test_an_unsampled_command_leaves_nothing_behind_in_the_gate(home: Path) -> None:
    """A sampled-out command (SDK path: its span never reaches the gate) keeps no required
    attributes waiting in a long-lived process."""
    telemetry = Telemetry("assembly", home=home, env={"OTEL_TRACES_SAMPLER": "always_off"})
    with capture_spans() as captured:
        for _ in range(3):
            with telemetry.command("run"):
                assert telemetry.tracer is not None
    assert captured.requests == []
    recorder = telemetry._capture_recorder
    assert recorder is not None
    assert recorder.gate._required == {}
