"""The exporter child imports only what its destination needs (issue 21): proved in a
real child process, started as the launcher starts it, with ``-X importtime``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry import destinations as d
from otel_cli_telemetry._process import launcher
from tests.collector import OtlpReceiver
from tests.conftest import ROOT

HTTP_CODE = {"http.client", "email.parser", "httpx", "httpcore", "urllib.request"}
TLS = {"ssl", "_ssl"}
PROTOBUF = {"google.protobuf", "opentelemetry.proto.collector.trace.v1.trace_service_pb2"}
OURS_HTTP = {
    "otel_cli_telemetry._exporter.sinks._wire",
    "otel_cli_telemetry._exporter.sinks._proxy",
    "otel_cli_telemetry._exporter.sinks._body",
    "socket",
}


def _spool(home: Path, listed: list[d.Destination]) -> None:
    telemetry = Telemetry(
        "assembly", home=home, env={}, destinations=listed or None, spawn=lambda *a, **k: None
    )
    with telemetry.command("run"):
        pass


def child_modules(home: Path) -> set[str]:
    """Every module one real exporter child imported (``-X importtime`` on its stderr)."""
    env = launcher.child_env({"PATH": "/usr/bin:/bin"}, home)
    argv = [sys.executable, "-X", "importtime", *launcher.argv()[1:]]
    done = subprocess.run(
        argv, env=env, cwd=launcher.CHILD_CWD, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line and "imported package" not in line
    }


@pytest.fixture
def receiver() -> OtlpReceiver:
    with OtlpReceiver() as server:
        yield server  # type: ignore[misc]


def test_the_file_sink_loads_no_network_code(home: Path) -> None:
    """The local file sink's child imports no HTTP client, no socket, no TLS, no protobuf."""
    _spool(home, [])
    loaded = child_modules(home)
    assert "otel_cli_telemetry._exporter.sinks.file" in loaded
    assert not loaded & (HTTP_CODE | TLS | PROTOBUF | OURS_HTTP)


@pytest.mark.parametrize("kind", ["http/json", "datadog", "posthog"])
def test_json_destinations_over_http_load_no_tls_and_no_protobuf(
    home: Path, receiver: OtlpReceiver, kind: str
) -> None:
    """http/json, Datadog and PostHog to an http:// receiver: our small client only; no
    ssl module (so no TLS context), no protobuf, no httpx or http.client."""
    listed: d.Destination
    if kind == "datadog":
        listed = d.Datadog("pub" + "0a" * 16, proxy_url=receiver.url + "/dd")
    elif kind == "posthog":
        listed = d.PostHog("phc_" + "a1B2" * 8, host=receiver.url)
    else:
        listed = d.OTLP(receiver.url, protocol="http/json")
    _spool(home, [listed])
    loaded = child_modules(home)
    assert len(receiver.requests) == 1  # it did deliver
    assert "otel_cli_telemetry._exporter.sinks._wire" in loaded
    assert not loaded & (HTTP_CODE | TLS | PROTOBUF)


def test_http_protobuf_loads_protobuf_but_no_tls(home: Path, receiver: OtlpReceiver) -> None:
    """OTLP http/protobuf to http://: protobuf is loaded (it is the wire format), ssl not."""
    _spool(home, [d.OTLP(receiver.url, protocol="http/protobuf")])
    loaded = child_modules(home)
    assert len(receiver.spans()) == 1
    assert "google.protobuf" in loaded
    assert not loaded & (HTTP_CODE | TLS)


def test_an_https_endpoint_does_load_tls(home: Path, receiver: OtlpReceiver) -> None:
    """The check above can fail: an https:// endpoint loads ssl once connected (the
    handshake then fails here: the receiver speaks plain HTTP)."""
    https = receiver.url.replace("http://", "https://")
    _spool(home, [d.OTLP(https, protocol="http/json")])
    assert TLS & child_modules(home)


def test_building_a_destination_in_the_cli_process_loads_no_network_code() -> None:
    """``Datadog(...)`` and ``PostHog(...)`` check themselves in the CLI process without
    loading their sink, the child's HTTP client, a socket or TLS."""
    program = (
        "import sys\n"
        "from otel_cli_telemetry import destinations as d\n"
        "d.Datadog('pub' + '0a' * 16); d.PostHog('phc_' + 'a1B2' * 8)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    loaded = set(done.stdout.split())
    assert "otel_cli_telemetry.destinations" in loaded  # the check really ran here
    assert not {m for m in loaded if m.startswith("otel_cli_telemetry._exporter")}
    assert not loaded & (HTTP_CODE | TLS | OURS_HTTP)
