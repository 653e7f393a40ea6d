"""Findings of this round's review of the exporter's HTTP client, each shown fixed: a
``NO_PROXY`` entry for an IPv6 host and port, a host NFKC normalisation would change, IPv6
zone ids, port 0, a four-digit status code, and a 2xx whose body stalls or is reset."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from otel_cli_telemetry._disk import delivery, spool
from otel_cli_telemetry._exporter.drain import drain
from otel_cli_telemetry._exporter.sinks._proxy import Unusable, proxy_for, split_url
from otel_cli_telemetry._exporter.sinks._wire import Client
from tests.collector import Behaviour, RawServer
from tests.conftest import EXAMPLES, cli_env, wait_for_exporters
from tests.test_exporter import paths_for, spool_commands
from tests.test_hostile_network import _sink

PROXY = {"HTTP_PROXY": "http://127.0.0.1:9"}


# --- which requests bypass the proxy, as urllib decides ---------------------------------


@pytest.mark.parametrize(
    ("no_proxy", "port"),
    [("[::1]:4318", 4318), ("[::1]:4318", 9999), ("[::1]", 4318),
     ("localhost:4318", 4318), ("localhost:1", 4318), (".example.com", 4318)],
)  # fmt: skip
def test_no_proxy_with_an_ipv6_host_and_port_is_honoured_as_urllib_does(
    no_proxy: str, port: int
) -> None:
    """``NO_PROXY=[::1]:4318`` exempts ``http://[::1]:4318`` (it sent the spans to the proxy
    before) and not another port; every entry here decides as urllib's own check does."""
    env = {**PROXY, "NO_PROXY": no_proxy}
    for host in ("::1", "localhost"):
        bypassed = proxy_for("http", host, port, env) is None
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        assert bypassed == urllib.request.proxy_bypass_environment(netloc, {"no": no_proxy})


def test_a_bare_ipv6_no_proxy_entry_exempts_that_address() -> None:
    """``NO_PROXY=::1`` (no brackets, as curl reads it) exempts ``[::1]`` on any port: a
    direct connection to the configured host, never another one."""
    assert proxy_for("http", "::1", 4318, {**PROXY, "NO_PROXY": "::1"}) is None
    assert proxy_for("http", "::2", 4318, {**PROXY, "NO_PROXY": "::1"}) == PROXY["HTTP_PROXY"]


def test_a_real_command_sends_nothing_to_a_proxy_no_proxy_exempts(
    home: Path, reap_exporters: Path, raw: Callable[[Behaviour], RawServer]
) -> None:
    """A real command and exporter child, the endpoint ``http://[::1]:PORT`` exempted by
    ``NO_PROXY=[::1]:PORT``: the proxy (a recording server) receives nothing."""
    proxy = raw(lambda conn, _head: conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    env = cli_env(
        home,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://[::1]:9/",
        HTTP_PROXY=proxy.url,
        NO_PROXY="[::1]:9",
        OTEL_CLI_TELEMETRY_LINGER_S="0",
    )
    cli = [sys.executable, str(EXAMPLES / "argparse_cli.py"), "add", "x"]
    done = subprocess.run(cli, env=env, capture_output=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, b"")
    wait_for_exporters(home, timeout=20)
    assert delivery.load(home / "delivery.json").failures >= 1  # it tried ::1 itself
    assert proxy.requests == []


# --- what an endpoint names ---------------------------------------------------------------


def test_a_host_nfkc_would_change_is_unusable_as_urllib_refuses_it() -> None:
    """A full-width slash in the host part (U+FF0F) reads as ``good.example/x@127.0.0.1``
    once normalised: urllib refuses the URL (CVE-2019-9636), and so does the client."""
    url = "http://good.example\uff0fx@127.0.0.1:4318/v1/traces"
    with pytest.raises(ValueError, match="NFKC"):
        urlsplit(url).port  # noqa: B018 - urllib checks the host part when it is split
    with pytest.raises(Unusable):
        split_url(url)
    # A non-ASCII name that normalises to no separator is a name like any other.
    assert split_url("http://b\u00fccher.example/")[1] == "b\u00fccher.example"


@pytest.mark.parametrize("spelled", ["%25eth0", "%eth0"])
def test_an_ipv6_zone_id_is_usable(spelled: str) -> None:
    """A link-local endpoint with a zone id (RFC 6874 spells its ``%`` as ``%25``) splits to
    the address and zone ``getaddrinfo`` takes; its Host header spells it as RFC 6874 does."""
    from otel_cli_telemetry._exporter.sinks._proxy import host_header

    scheme, host, port, target, _ = split_url(f"http://[fe80::1{spelled}]:4318/v1/traces")
    assert (scheme, host, port, target) == ("http", "fe80::1%eth0", 4318, "/v1/traces")
    assert host_header(host, port, scheme) == "[fe80::1%25eth0]:4318"


@pytest.mark.parametrize("url", ["http://[fe80::1%]/", "http://[fe80::1%25]/",
                                 "http://[fe80::1%e;th]/", "http://h:0/x"])  # fmt: skip
def test_an_empty_or_odd_zone_and_port_0_are_unusable(url: str) -> None:
    """An empty zone id, one with a character RFC 6874 does not allow, and port 0 (which
    went to port 80 before) are settings the client cannot use."""
    with pytest.raises(Unusable):
        split_url(url)


# --- what a response says -------------------------------------------------------------------


def test_a_four_digit_status_code_is_not_a_success(
    home: Path, raw: Callable[[Behaviour], RawServer]
) -> None:
    """``HTTP/1.1 2000 OK`` is no status line: a protocol error, retried later, and the
    trace stays queued (it read as 200 and was deleted before)."""
    server = raw(lambda conn, _h: conn.sendall(b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"))
    spool_commands(home, ["a"])
    sink = _sink(server.url, client=Client())
    report = drain(paths_for(home), sink.destination, sink=sink, deadline_s=5)
    assert report.delivered == 0
    assert len(spool.entries(home / "spool")) == 1
    assert "ProtocolError" in str(delivery.load(home / "delivery.json").last_error)


def _stall(conn: socket.socket, _head: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
    time.sleep(4)  # past the request's deadline; the server then closes


def _reset(conn: socket.socket, _head: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
    time.sleep(0.2)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # an RST


@pytest.mark.parametrize("behave", [_stall, _reset], ids=["stalled", "reset"])
def test_a_2xx_whose_body_stalls_or_is_reset_counts_as_accepted(
    home: Path, raw: Callable[[Behaviour], RawServer], behave: Behaviour
) -> None:
    """The server answered 200, then its body stalls past the deadline or the connection is
    reset: the batch was accepted, as the status said, and is never sent again (it was,
    before: the receiver got it twice). Nothing is left queued, no back-off."""
    server = raw(behave)
    spool_commands(home, ["a"])
    sink = _sink(server.url, client=Client(), timeout_s=2.0)
    report = drain(paths_for(home), sink.destination, sink=sink, deadline_s=3)
    assert (report.delivered, report.last_error) == (1, None)
    assert len(server.requests) == 1
    assert spool.entries(home / "spool") == []
    assert not delivery.load(home / "delivery.json").in_backoff()
