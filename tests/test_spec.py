"""The OpenTelemetry specification, row by row: samplers, the author's sample rate, service
name precedence, span limits, propagators and baggage, ``os.type``. (Headers, timeout and
``config.toml`` are in ``test_config``; OTLP JSON fields in ``test_otlp_json``; Datadog and
PostHog in their own files.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import baggage
from opentelemetry import context as context_api
from opentelemetry.sdk.trace import sampling as sdk_sampling
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    set_span_in_context,
)

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import spool
from otel_cli_telemetry._process import attributes, config, light
from otel_cli_telemetry._process.light import SpanIds
from otel_cli_telemetry._process.sdk import spec_sampler
from otel_cli_telemetry.testing import capture_spans
from tests.conftest import ROOT
from tests.test_telemetry import make

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
UNSAMPLED = PARENT[:-2] + "00"


def _spans(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for r in requests for rs in r["resourceSpans"] for ss in rs["scopeSpans"]
            for s in ss["spans"]]  # fmt: skip


def _install(home: Path, installation_id: str) -> None:
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "state.json").write_text(json.dumps({"installation_id": installation_id}))


# --- samplers -------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(config.SAMPLERS),
    ratio=st.floats(0.0, 1.0),
    trace_id=st.integers(1, 2**128 - 1),
    parent_flags=st.one_of(st.none(), st.integers(0, 3)),
    remote=st.booleans(),
)
def test_the_light_decision_is_the_sdk_samplers(
    name: str, ratio: float, trace_id: int, parent_flags: int | None, remote: bool
) -> None:
    """For every sampler, ratio, trace id and parent: our stdlib decision equals the SDK's
    own sampler's (TraceIdRatioBased looks at the 64 low-order bits, as the Python SDK)."""
    parent = None
    context = None
    if parent_flags is not None:
        parent = SpanIds(trace_id, 1, parent_flags, None, is_remote=remote)
        span_context = SpanContext(
            trace_id, 1, is_remote=remote, trace_flags=TraceFlags(parent_flags)
        )
        context = set_span_in_context(NonRecordingSpan(span_context))
    ours = light.decide(name, ratio, trace_id, parent)
    theirs = spec_sampler(name, ratio).should_sample(context, trace_id, "n").decision
    assert ours == theirs.is_sampled()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, ("parentbased_always_on", 1.0)),
        ({"OTEL_TRACES_SAMPLER": "TraceIdRatio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
         ("traceidratio", 0.25)),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
         ("traceidratio", 1.0)),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "nan"},
         ("traceidratio", 1.0)),
        ({"OTEL_TRACES_SAMPLER": "always_off", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
         ("always_off", 1.0)),
        ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, ("parentbased_always_on", 1.0)),
    ],
)  # fmt: skip
def test_sampler_variables_are_read_as_the_sdk_reads_them(
    raw: dict[str, str], expected: tuple[str, float]
) -> None:
    """Case-insensitive names; unknown names and bad ratios fall back to the defaults."""
    assert config.sampler_from_env(raw) == expected


@pytest.mark.parametrize(
    "env",
    [{"OTEL_TRACES_SAMPLER": "always_off"}, {"TRACEPARENT": UNSAMPLED}],
    ids=["always_off", "unsampled-parent"],
)
def test_a_sampled_out_command_costs_what_a_disabled_one_costs(
    home: Path, env: dict[str, str]
) -> None:
    """No spool file, no exporter, no installation id read or made; the command's own
    exit code and exception pass through unchanged."""
    telemetry, spawn = make(home, env)

    def exit_four() -> None:
        with telemetry.command("a") as handle:
            assert handle.recording is True
            raise SystemExit(4)

    with pytest.raises(SystemExit) as exited:
        exit_four()
    assert exited.value.code == 4
    with pytest.raises(KeyError), telemetry.command("b"):
        raise KeyError("its own")

    @telemetry.track("c")
    def command() -> int:
        return 7

    assert command() == 7
    assert spawn.calls == []
    assert not (home / "spool").exists() or spool.entries(home / "spool") == []
    assert not (home / "state.json").exists()


def test_sampled_commands_still_spool(home: Path) -> None:
    """The same run with a sampled caller is spooled: the test above is not vacuous."""
    telemetry, spawn = make(home, {"TRACEPARENT": PARENT})
    with telemetry.command("a"):
        pass
    assert len(spool.entries(home / "spool")) == 1
    assert len(spawn.calls) == 1


# --- the author's sample_rate -----------------------------------------------------------


def test_sample_rate_is_validated() -> None:
    """A sample rate outside [0, 1], NaN or not a number is refused."""
    for bad in (-0.1, 1.5, float("nan"), "0.5"):
        with pytest.raises(ValueError, match="sample_rate"):
            Telemetry("x", sample_rate=bad)  # type: ignore[arg-type]


def test_sample_rate_keeps_an_installation_in_or_out_for_good(tmp_path: Path) -> None:
    """The decision is a hash of the installation id: the same id gets the same answer on
    every command and every process, and about ``rate`` of all ids are in."""
    ids = [f"00000000-0000-4000-8000-{n:012x}" for n in range(2000)]
    share = sum(light.installation_sampled(i, 0.25) for i in ids) / len(ids)
    assert 0.2 < share < 0.3
    inside = next(i for i in ids if light.installation_sampled(i, 0.25))
    outside = next(i for i in ids if not light.installation_sampled(i, 0.25))
    for installation, recorded in ((inside, True), (outside, False)):
        home = tmp_path / installation
        _install(home, installation)
        telemetry = Telemetry("app", home=home, env={}, sample_rate=0.25)
        for sdk in (False, True):
            with capture_spans() as captured, telemetry.command("go"):
                if sdk:
                    with telemetry.tracer.start_as_current_span("child"):
                        pass
            spans = _spans(captured.requests)
            assert bool(spans) is recorded
            for span in spans:
                if span["name"] == "app go":
                    rate = {a["key"]: a["value"] for a in span["attributes"]}[
                        attributes.SAMPLE_RATE
                    ]
                    assert rate == {"doubleValue": 0.25}  # a backend re-weights by 1/rate


def test_sample_rate_reads_no_installation_id_when_disabled(tmp_path: Path) -> None:
    """With telemetry off, ``sample_rate`` does not make the library look for an id."""
    home = tmp_path / "home"
    telemetry = Telemetry("app", home=home, env={"DO_NOT_TRACK": "1"}, sample_rate=0.5)
    with telemetry.command("go") as handle:
        assert handle.recording is False
    assert not home.exists()


# --- service name ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "from-code"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,team=cli"}, "from-attrs"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs", "OTEL_SERVICE_NAME": "svc"},
         "svc"),
        ({"OTEL_SERVICE_NAME": "svc"}, "svc"),
    ],
)  # fmt: skip
def test_service_name_precedence(env: dict[str, str], expected: str) -> None:
    """``OTEL_SERVICE_NAME`` > ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES`` > the name
    given to ``Telemetry`` (the app's default, not a resource set in code)."""
    attrs = attributes.resource_attributes("from-code", None, None, env, "1.0")
    assert attrs["service.name"] == expected


def test_os_type_for_zos_is_the_current_value() -> None:
    """semconv: ``zos``; ``z_os`` is deprecated."""
    assert attributes.os_type("zos") == "zos"
    assert attributes.os_type("linux") == "linux"


# --- limits ---------------------------------------------------------------------------


def test_limit_variables_most_specific_first() -> None:
    """Limit variables apply most specific first, bad values fall back to defaults, and none set
    gives the defaults."""
    limits = config.limits_from_env(
        {
            "OTEL_ATTRIBUTE_COUNT_LIMIT": "10",
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "2",
            "OTEL_SPAN_EVENT_COUNT_LIMIT": "1",
            "OTEL_SPAN_LINK_COUNT_LIMIT": "bad",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "5",
        }
    )
    assert (limits.span_attributes, limits.event_attributes, limits.link_attributes) == (10, 2, 10)
    assert (limits.events, limits.links) == (1, config.DEFAULT_LINK_COUNT)
    assert (limits.value_length, limits.attribute_length) == (5, 5)
    assert config.limits_from_env({}) == config.Limits()


def test_event_and_link_limits_reach_the_wire(home: Path) -> None:
    """``OTEL_SPAN_EVENT_COUNT_LIMIT``, ``OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`` and
    ``OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`` bound child spans; the OTLP JSON says how much was
    dropped."""
    from opentelemetry.trace import Link

    env = {
        "OTEL_SPAN_EVENT_COUNT_LIMIT": "1",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "1",
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "1",
        "OTEL_SPAN_LINK_COUNT_LIMIT": "1",
    }
    telemetry = Telemetry("app", home=home, env=env)
    other = SpanContext(5, 6, is_remote=True, trace_flags=TraceFlags(1))
    with capture_spans() as captured, telemetry.command("go"):
        links = [Link(other), Link(other, {"a": 1, "b": 2})]  # the newest is kept
        with telemetry.tracer.start_as_current_span("child", links=links) as span:
            span.add_event("one")
            span.add_event("two", {"a": 1, "b": 2})
    [child] = [s for s in _spans(captured.requests) if s["name"] == "child"]
    assert child["droppedEventsCount"] == 1
    assert child["droppedLinksCount"] == 1
    [event] = child["events"]  # the SDK keeps the newest
    assert (event["name"], event["droppedAttributesCount"]) == ("two", 1)
    assert child["links"][0]["droppedAttributesCount"] == 1
    assert child["links"][0]["flags"] == 0x301  # has-is-remote, is-remote, sampled


# --- propagators and baggage ----------------------------------------------------------


@pytest.mark.parametrize("sdk", [False, True], ids=["light", "sdk"])
def test_baggage_goes_from_caller_to_subprocess(home: Path, sdk: bool) -> None:
    """``BAGGAGE`` in (env carrier) comes out in ``child_env``, on the usage path without
    the SDK and on the SDK path through OpenTelemetry's own propagator. (Member properties,
    ``;p=1``, pass through unchanged on the light path; the SDK's propagator folds them into
    the value, which is its behaviour, not ours.)"""
    env = {"TRACEPARENT": PARENT, "BAGGAGE": "team=cli,user.tier=pro"}
    telemetry = Telemetry("app", home=home, env=env)
    with capture_spans(), telemetry.command("go"):
        if sdk:
            assert telemetry.tracer is not None
            assert baggage.get_baggage("team") == "cli"  # in the command's context
        out = telemetry.child_env({"BAGGAGE": "stale=1"})
    assert out["TRACEPARENT"].startswith(f"00-{TRACE_ID}-")
    members = {m.strip() for m in out["BAGGAGE"].split(",")}
    assert members == {"team=cli", "user.tier=pro"}


@pytest.mark.parametrize("sdk", [False, True], ids=["light", "sdk"])
def test_propagators_none_carries_nothing(home: Path, sdk: bool) -> None:
    """``OTEL_PROPAGATORS=none``: the caller's trace is not joined, nothing is injected
    (the subprocess gets a plain copy of the environment)."""
    env = {"TRACEPARENT": PARENT, "BAGGAGE": "team=cli", "OTEL_PROPAGATORS": "none"}
    telemetry = Telemetry("app", home=home, env=env)
    with capture_spans() as captured, telemetry.command("go"):
        if sdk:
            assert telemetry.tracer is not None
        out = telemetry.child_env({"KEEP": "1"})
    assert out == {"KEEP": "1"}
    [span] = [s for s in _spans(captured.requests) if s["name"] == "app go"]
    assert span["traceId"] != TRACE_ID
    assert "parentSpanId" not in span


def test_propagators_tracecontext_only_leaves_baggage_alone(home: Path) -> None:
    """With ``OTEL_PROPAGATORS=tracecontext`` the child env carries TRACEPARENT but no BAGGAGE, and
    unknown propagators are ignored."""
    env = {"TRACEPARENT": PARENT, "BAGGAGE": "team=cli", "OTEL_PROPAGATORS": "tracecontext"}
    telemetry = Telemetry("app", home=home, env=env)
    with capture_spans(), telemetry.command("go"):
        out = telemetry.child_env({})
    assert "BAGGAGE" not in out
    assert out["TRACEPARENT"].startswith(f"00-{TRACE_ID}-")
    assert config.propagators_from_env({"OTEL_PROPAGATORS": "b3, Baggage"}) == ("baggage",)


def test_light_baggage_drops_malformed_members_only() -> None:
    """The light path's baggage drops malformed members only, all of it when oversized or
    propagation is off."""
    from otel_cli_telemetry._process.trace_context import light_baggage

    assert light_baggage({"BAGGAGE": "a=1, bad, b=%20x;prop"}) == "a=1,b=%20x;prop"
    assert light_baggage({"BAGGAGE": "x" * 9000 + "=1"}) is None
    assert light_baggage({"BAGGAGE": "a=1", "OTEL_PROPAGATORS": "none"}) is None


USAGE = """
import json, os, sys
from otel_cli_telemetry import Telemetry
t = Telemetry("usage", env_prefix="USAGE")
with t.command("run"):
    out = t.child_env()
print(json.dumps({"sdk": "opentelemetry.sdk.trace" in sys.modules,
                  "baggage": out.get("BAGGAGE"), "tp": out.get("TRACEPARENT")}))
"""


def test_the_light_path_carries_baggage_without_the_sdk(tmp_path: Path) -> None:
    """In a real process: baggage passes through ``child_env`` with no SDK import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "USAGE_"))}
    env.update(
        USAGE_TELEMETRY_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT),
        USAGE_TELEMETRY_DEBUG="1", BAGGAGE="team=cli", TRACEPARENT=PARENT,
    )  # fmt: skip
    env.pop("DO_NOT_TRACK", None)
    result = subprocess.run(
        [sys.executable, "-c", USAGE], env=env, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report == {"sdk": False, "baggage": "team=cli", "tp": report["tp"]}
    assert report["tp"].startswith(f"00-{TRACE_ID}-")


def test_extract_keeps_baggage_without_a_trace_context() -> None:
    """Extraction keeps BAGGAGE without a TRACEPARENT, returns None for an empty carrier and leaves
    the current context alone."""
    from otel_cli_telemetry._process import propagation

    ctx = propagation.extract({"BAGGAGE": "k=v"})
    assert ctx is not None
    assert baggage.get_baggage("k", ctx) == "v"
    assert propagation.extract({}) is None
    assert context_api.get_current() is not None


def test_sdk_sampler_for_every_name() -> None:
    """Each ``OTEL_TRACES_SAMPLER`` value maps to the SDK sampler of that name."""
    described = {name: spec_sampler(name, 0.5).get_description() for name in config.SAMPLERS}
    assert described["always_on"] == sdk_sampling.ALWAYS_ON.get_description()
    assert "TraceIdRatioBased{0.5}" in described["parentbased_traceidratio"]
    assert described["parentbased_always_off"].startswith("ParentBased{root:AlwaysOffSampler")
