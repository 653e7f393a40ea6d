"""Bad input of every kind, generated: nothing ever raises into the host."""

from __future__ import annotations

import contextlib
import io
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import (
    delivery,
    destination,
    enqueue,
    identity,
    inventory,
    state,
)
from otel_cli_telemetry._exporter.drain import drain
from otel_cli_telemetry._process import consent
from otel_cli_telemetry.testing import capture_spans

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

junk_bytes = st.binary(max_size=2048)
junk_text = st.text(max_size=300)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)


@contextlib.contextmanager
def private_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir(mode=0o700)
        yield home


@FUZZ
@given(junk_bytes)
def test_any_config_file(content: bytes) -> None:
    """Any bytes as config.toml resolve without raising; only a ``mode``/``enabled`` key
    can make a persisted choice, and without one telemetry is on by default."""
    with private_home() as home:
        (home / "config.toml").write_bytes(content)
        decision = consent.resolve({}, env_prefix="X", config_file=home / "config.toml")
        if b"mode" not in content and b"enabled" not in content:
            assert (decision.rule, decision.enabled) == ("default", True)
        else:
            assert decision.rule in ("config", "default")


@FUZZ
@given(junk_text.filter(lambda t: "mode" not in t and "enabled" not in t))
def test_junk_after_a_persisted_opt_out_never_undoes_it(junk: str) -> None:
    """Whatever text (valid TOML or not) follows a persisted ``enabled = false`` first
    line, telemetry stays off: a typo elsewhere never turns it back on."""
    with private_home() as home:
        text = f"enabled = false\n{junk}"
        (home / "config.toml").write_text(text, encoding="utf-8")
        decision = consent.resolve({}, env_prefix="X", config_file=home / "config.toml")
        assert (decision.rule, decision.enabled) == ("config", False), text


@FUZZ
@given(junk_bytes | json_like.map(lambda v: __import__("json").dumps(v).encode()))
def test_any_state_file(content: bytes) -> None:
    """Any bytes in state.json yield a random version-4 installation id, minted once and then
    stable."""
    with private_home() as home:
        (home / "state.json").write_bytes(content)
        paths = state.Paths(home=home, config_dir=home)
        minted = identity.installation_id(paths)
        assert uuid.UUID(minted).version == 4
        assert identity.installation_id(paths) == minted


@FUZZ
@given(junk_bytes | json_like.map(lambda v: __import__("json").dumps(v).encode()))
def test_any_delivery_and_destination_file(content: bytes) -> None:
    """Any bytes in delivery.json and destination.json load to sane values (defaults for
    non-objects) without rewriting the files."""
    with private_home() as home:
        (home / "delivery.json").write_bytes(content)
        (home / "destination.json").write_bytes(content)
        loaded = delivery.load(home / "delivery.json")
        state_json = loaded.to_json()
        assert all(v >= 0 for v in state_json.values() if isinstance(v, int))
        assert all(v >= 0 for v in state_json["dropped"].values())
        destinations = inventory.load(home / "destination.json")
        assert 1 <= len(destinations) <= 4
        for dest in destinations:
            assert dest.kind in destination.KINDS
            assert dest.kind == destination.FILE or str(dest.endpoint).startswith("http")
        # Junk that is not a JSON object falls back to the defaults exactly.
        try:
            parsed = __import__("json").loads(content)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            assert state_json == delivery.DeliveryState().to_json()
            assert destinations == [destination.Destination()]
        # Loading never rewrites what it read.
        assert (home / "delivery.json").read_bytes() == content


@FUZZ
@given(st.lists(junk_bytes | json_like.map(lambda v: __import__("json").dumps(v).encode()),
                min_size=1, max_size=4))  # fmt: skip
def test_any_spool_file(contents: list[bytes]) -> None:
    """Garbage in the spool is quarantined or sent as data; the drain never raises."""
    with private_home() as home:
        spool_dir = home / "spool"
        for content in contents:
            enqueue.write(spool_dir, content)
        paths = state.Paths(home=home, config_dir=home)
        report = drain(paths, destination.Destination(), deadline_s=5)
        assert report.remaining == 0
        assert report.delivered + report.dropped.get("corrupt", 0) == len(contents)


env_names = st.sampled_from(
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SERVICE_NAME",
        "TRACEPARENT",
        "TRACESTATE",
        "DO_NOT_TRACK",
        "CI",
        "FUZZ_TELEMETRY_DEBUG",
        "FUZZ_TELEMETRY_DATADOG_CLIENT_TOKEN",
        "FUZZ_TELEMETRY_DATADOG_URL",
        "DD_SITE",
    ]
)


@FUZZ
@given(st.dictionaries(env_names, junk_text, max_size=6), json_like)
def test_any_environment_and_attribute_values(env: dict[str, str], value: object) -> None:
    """Whatever the environment and the author's attribute values, the command runs, its
    result and exception are its own, and telemetry never raises or prints on stdout."""
    env = {k: v.replace("\x00", "") for k, v in env.items()}
    with private_home() as home, contextlib.redirect_stdout(io.StringIO()) as out:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), capture_spans() as captured:
            telemetry = Telemetry("fuzz", home=home, env=env, spawn=lambda *a, **k: None)

            def run_command() -> None:
                with telemetry.command("run", attributes={"app.value": value}) as handle:
                    handle.set_attribute("app.other", value)
                    raise LookupError("the command's own error")

            with pytest.raises(LookupError, match="the command's own error"):
                run_command()
            telemetry.status()
            telemetry.child_env({})
        assert out.getvalue() == ""
        if telemetry.consent().enabled:
            [span] = captured.commands  # the command was recorded, once
            assert span.attributes["process.exit.code"] == 1
            assert span.attributes["error.type"] == "LookupError"
        else:
            assert captured.commands == []
        if "FUZZ_TELEMETRY_DEBUG" not in env:
            assert stderr.getvalue() == ""
