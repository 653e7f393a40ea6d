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
from pathlib import Path
from typing import Any

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import delivery
from otel_cli_telemetry._process import command
from otel_cli_telemetry.testing import capture_spans
from tests.conftest import cli_env, wait_for_exporters

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
    wait_for_exporters(home)
    state = delivery.load(home / "delivery.json")
    assert state.dropped == {"span_cap": 1488}
    assert state.unreported == {}  # announced
    spans = file_sink_spans(home)
    assert len(spans) == 513  # 512 children and the command span
    [root] = [s for s in spans if s["name"] == "assembly many"]
    values = values_of(root)
    assert values["cli_telemetry.dropped_spans"] == "1488"
    assert "cli_telemetry.dropped_traces" not in values  # no trace was lost
    assert values["cli_telemetry.dropped_reasons"] == {
        "values": [{"stringValue": "span_cap=1488"}]
    }
    status = Telemetry("assembly", home=home, env=env).status()
    assert "dropped: span_cap=1488 spans" in status.lines()

    assert run_script(tmp_path, body, env, "next", "0").returncode == 0
    wait_for_exporters(home)
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
    wait_for_exporters(home)
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
        with capture_spans() as captured:
            with telemetry.command("x" * 200_000):
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
    with capture_spans() as captured:
        with (
            pytest.raises(SystemExit),
            telemetry.command("fail", attributes={"a": 1, "b": 2}),
        ):
            if sdk:
                telemetry.tracer.start_span("child", attributes={"c": 1, "d": 2}).end()
            raise SystemExit(3)
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
    wait_for_exporters(home)
    [span] = file_sink_spans(home)
    values = values_of(span)
    assert REQUIRED <= set(values)
    assert values["process.executable.name"] == "cli.py"
    assert "error.type" not in values
