"""The light recorder: a command that makes no child span never imports the SDK, and its
span is the one the SDK would have sent, field for field."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.testing import capture_spans
from tests.conftest import ROOT

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
STATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
INSTALLATION_ID = "5b6f5a7e-5f0e-4d3c-9a55-0d7c3f1e2a4b"


class Boom(Exception):
    pass


def _raise(what: BaseException) -> None:
    raise what


EXITS: dict[str, Any] = {
    "success": lambda handle: None,
    "exit-0": lambda handle: _raise(SystemExit(0)),
    "exit-3": lambda handle: _raise(SystemExit(3)),
    "exit-message": lambda handle: _raise(SystemExit("fatal: secret")),
    "ctrl-c": lambda handle: _raise(KeyboardInterrupt()),
    "exception": lambda handle: _raise(Boom("secret")),
    "returned-5": lambda handle: setattr(handle, "exit_code", 5),
}


def _run(
    home: Path, exit_path: str, *, sdk: bool, env: dict[str, str], nested: bool
) -> dict[str, Any]:
    if not (home / "state.json").exists():  # one installation id for both runs
        home.mkdir(mode=0o700, exist_ok=True)
        (home / "state.json").write_text(json.dumps({"installation_id": INSTALLATION_ID}))
    telemetry = Telemetry("parity", version="2.0", home=home, env=env)
    with capture_spans() as captured:
        try:
            with telemetry.command("go", attributes={"app.flag": True}) as handle:
                handle.set_attribute("app.count", 3)
                if nested:
                    with telemetry.command("inner"):
                        if sdk:
                            assert telemetry.tracer is not None  # asks for the SDK
                elif sdk:
                    assert telemetry.tracer is not None
                handle.set_name("renamed")
                EXITS[exit_path](handle)
        except (SystemExit, KeyboardInterrupt, Boom):
            pass
    [request] = captured.requests
    return request


_PER_RUN = ("cli_telemetry.duration_ms", "cli_telemetry.startup_ms")


def _normalised(request: dict[str, Any]) -> dict[str, Any]:
    """The request without what differs from run to run: span ids, times, duration, and the
    start-up time (recorded on a process's first command only, whichever run that was)."""
    result = copy.deepcopy(request)
    for rs in result["resourceSpans"]:
        rs["resource"]["attributes"].sort(key=lambda a: a["key"])
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("spanId", "startTimeUnixNano", "endTimeUnixNano"):
                    span.pop(key)
                if span.get("parentSpanId") != PARENT.split("-")[2]:
                    span.pop("parentSpanId", None)
                if not span.get("traceState"):
                    span.pop("traceId")
                span["attributes"] = sorted(
                    (a for a in span["attributes"] if a["key"] not in _PER_RUN),
                    key=lambda a: a["key"],
                )
            ss["spans"].sort(key=lambda s: s["name"])
    return result


@pytest.mark.parametrize("exit_path", sorted(EXITS))
@pytest.mark.parametrize("parent", ["root", "traceparent"])
@pytest.mark.parametrize("nested", [False, True], ids=["one", "nested"])
def test_the_light_span_equals_the_sdk_span_field_for_field(
    home: Path, exit_path: str, parent: str, nested: bool
) -> None:
    """For every exit path, with and without a caller's trace context, and with a nested
    command: the usage path's OTLP request equals the SDK path's, ids and times aside."""
    env = {"TRACEPARENT": PARENT, "TRACESTATE": STATE} if parent == "traceparent" else {}
    light = _run(home, exit_path, sdk=False, env=env, nested=nested)
    sdk = _run(home, exit_path, sdk=True, env=env, nested=nested)
    assert _normalised(light) == _normalised(sdk)
    spans = [s for rs in light["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert len(spans) == (2 if nested else 1)
    if parent == "traceparent":
        assert {s["traceId"] for s in spans} == {PARENT.split("-")[1]}
        assert {s["traceState"] for s in spans} == {STATE}


def test_the_sdk_continues_the_light_span_with_its_ids_and_start(home: Path) -> None:
    """Asking for the SDK mid-command keeps the command span's trace id, span id and start
    time, and child spans made through ``telemetry.tracer`` are its children."""
    telemetry = Telemetry("parity", home=home, env={})
    with capture_spans() as captured, telemetry.command("go") as handle:
        light = handle._span.light  # type: ignore[union-attr]
        assert light is not None
        ids, started = light.context, light.start_time
        with telemetry.tracer.start_as_current_span("child"):
            pass
    spans = {s.name: s for s in captured.spans}
    root, child = spans["parity go"], spans["child"]
    assert root.trace_id == f"{ids.trace_id:032x}"
    assert root.span_id == f"{ids.span_id:016x}"
    assert child.parent_span_id == root.span_id
    raw = next(
        s
        for rs in captured.requests[0]["resourceSpans"]
        for ss in rs["scopeSpans"]
        for s in ss["spans"]
        if s["name"] == "parity go"
    )
    assert raw["startTimeUnixNano"] == str(started)


def test_child_env_carries_the_light_span_without_the_sdk(home: Path) -> None:
    """``child_env`` gives a subprocess the command span's context on the usage path."""
    telemetry = Telemetry("parity", home=home, env={"TRACESTATE": STATE, "TRACEPARENT": PARENT})
    with capture_spans(), telemetry.command("go") as handle:
        env = telemetry.child_env({})
        ids = handle._span.ids  # type: ignore[union-attr]
    assert env["TRACEPARENT"] == f"00-{ids.trace_id:032x}-{ids.span_id:016x}-01"  # parent's bits
    assert env["TRACESTATE"] == STATE


USAGE = """
import json, sys
from otel_cli_telemetry import Telemetry
t = Telemetry("usage", version="1", env_prefix="USAGE")
with t.command("run"):
    pass
before = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
with t.command("traced"):
    with t.tracer.start_as_current_span("child"):
        pass
after = "opentelemetry.sdk.trace" in sys.modules
print(json.dumps({"before": before, "after": after}))
"""


def test_the_usage_path_imports_no_opentelemetry_sdk(tmp_path: Path) -> None:
    """In a real process: a command without child spans loads nothing of OpenTelemetry but
    the SDK's version string; the SDK loads when a command asks for a tracer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "USAGE_"))}
    env.update(USAGE_TELEMETRY_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    env.pop("DO_NOT_TRACK", None)
    env["USAGE_TELEMETRY_DEBUG"] = "1"  # print instead of spooling: no exporter to reap
    result = subprocess.run(
        [sys.executable, "-c", USAGE], env=env, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["before"] == ["opentelemetry", "opentelemetry.sdk", "opentelemetry.sdk.version"]
    assert report["after"] is True
    assert '"name": "usage run"' in result.stderr


UNSAMPLED = PARENT[:-2] + "00"
S, ARG = "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"
#: PARENT's trace id has 0x8448eb211c80319c as its low 64 bits: about 0.517 of 2**64.
SAMPLER_CASES = [
    ({}, PARENT, True),
    ({}, UNSAMPLED, False),
    ({"OTEL_TRACES_SAMPLER": "always_on"}, UNSAMPLED, True),
    ({"OTEL_TRACES_SAMPLER": "ALWAYS_OFF"}, PARENT, False),
    ({"OTEL_TRACES_SAMPLER": "always_off"}, None, False),
    ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, PARENT, True),
    ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, None, False),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}, UNSAMPLED, False),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.52"}, UNSAMPLED, True),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}, PARENT, False),
    ({S: "parentbased_traceidratio", ARG: "0"}, PARENT, True),
    ({S: "parentbased_traceidratio", ARG: "1"}, UNSAMPLED, False),
    ({S: "parentbased_traceidratio", ARG: "0"}, None, False),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"}, None, True),
    ({"OTEL_TRACES_SAMPLER": "bogus"}, UNSAMPLED, False),  # unknown: the default
]  # fmt: skip


def _requests(home: Path, *, sdk: bool, env: dict[str, str], nested: bool) -> list[Any]:
    if not (home / "state.json").exists():
        home.mkdir(mode=0o700, exist_ok=True)
        (home / "state.json").write_text(json.dumps({"installation_id": INSTALLATION_ID}))
    telemetry = Telemetry("parity", version="2.0", home=home, env=env)
    with capture_spans() as captured:
        try:
            with telemetry.command("go") as handle:
                handle.set_attribute("app.count", 3)
                if nested:
                    with telemetry.command("inner"):
                        if sdk:
                            with telemetry.tracer.start_as_current_span("child"):
                                pass
                elif sdk:
                    with telemetry.tracer.start_as_current_span("child"):
                        pass
                raise SystemExit(3)
        except SystemExit as exited:
            code = exited.code
        else:
            code = None
        assert code == 3  # an unsampled command exits as it would anyway
    return captured.requests


@pytest.mark.parametrize(("sampler", "traceparent", "recorded"), SAMPLER_CASES)
@pytest.mark.parametrize("nested", [False, True], ids=["one", "nested"])
def test_the_light_and_sdk_paths_sample_alike(
    home: Path,
    sampler: dict[str, str],
    traceparent: str | None,
    recorded: bool,
    nested: bool,
) -> None:
    """Every spec sampler, with a sampled, an unsampled or no caller: the usage path and
    the SDK path record the same command spans, or both record nothing at all."""
    env = dict(sampler)
    if traceparent:
        env["TRACEPARENT"] = traceparent
    light = _requests(home, sdk=False, env=env, nested=nested)
    sdk = _requests(home, sdk=True, env=env, nested=nested)
    assert len(light) == (1 if recorded else 0)
    assert len(sdk) == len(light)
    if recorded:
        names = {
            s["name"]
            for rs in sdk[0]["resourceSpans"]
            for ss in rs["scopeSpans"]
            for s in ss["spans"]
        }
        assert "child" in names  # the child span follows its command span's decision
        sdk_commands = copy.deepcopy(sdk[0])
        for rs in sdk_commands["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                ss["spans"] = [s for s in ss["spans"] if s["name"] != "child"]
        assert _normalised(light[0]) == _normalised(sdk_commands)


@pytest.mark.parametrize("sdk", [False, True], ids=["light", "sdk"])
def test_limits_from_the_environment_apply_alike(home: Path, sdk: bool) -> None:
    """``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`` and ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` bound the
    command span on both paths the same way: oldest attribute evicted, strings cut."""
    env = {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "4", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "3"}
    home.mkdir(mode=0o700)
    (home / "state.json").write_text(json.dumps({"installation_id": INSTALLATION_ID}))
    telemetry = Telemetry("parity", home=home, env=env)
    with capture_spans() as captured, telemetry.command("go", attributes={"a.s": "long"}) as h:
        h.set_attribute("b.list", ["abcd", "x"])
        if sdk:
            assert telemetry.tracer is not None
    [span] = [
        s
        for rs in captured.requests[0]["resourceSpans"]
        for ss in rs["scopeSpans"]
        for s in ss["spans"]
    ]
    values = {a["key"]: a["value"] for a in span["attributes"]}
    # process.executable.name, process.pid, a.s, b.list, then 3 at the end: 3 evicted, and
    # the two required ones among them put back (tests/test_limits_and_urls.py).
    assert len(values) == 6
    assert span["droppedAttributesCount"] == 1
    assert {"process.exit.code", "process.executable.name", "process.pid"} <= set(values)
    assert "a.s" not in values
    assert values["b.list"] == {
        "arrayValue": {"values": [{"stringValue": "abc"}, {"stringValue": "x"}]}
    }


def test_limits_parity(home: Path) -> None:
    """The same limited command on both paths gives the same request."""
    env = {"OTEL_ATTRIBUTE_COUNT_LIMIT": "5", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "2"}
    light = _run(home, "exit-3", sdk=False, env=env, nested=False)
    sdk = _run(home, "exit-3", sdk=True, env=env, nested=False)
    assert _normalised(light) == _normalised(sdk)
    [span] = light["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert span["droppedAttributesCount"] > 0
    assert all(
        len(a["value"]["stringValue"]) <= 2
        for a in span["attributes"]
        if "stringValue" in a["value"]
    )


def test_child_env_of_an_unsampled_command_says_so(home: Path) -> None:
    """A command not recorded because its caller's trace is not sampled passes that on."""
    telemetry = Telemetry("parity", home=home, env={"TRACEPARENT": UNSAMPLED})
    with capture_spans() as captured, telemetry.command("go"):
        env = telemetry.child_env({})
    assert env["TRACEPARENT"].startswith("00-" + PARENT.split("-")[1])
    assert env["TRACEPARENT"].endswith("-00")
    assert captured.requests == []
