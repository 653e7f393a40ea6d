"""Datadog logs intake sink, against a local intake that checks the documented wire format."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from otel_cli_telemetry import OTLP, Datadog, Telemetry
from otel_cli_telemetry._disk import delivery, destination, enqueue, spool, state, vendors
from otel_cli_telemetry._exporter.child import run_child
from otel_cli_telemetry._exporter.sinks import datadog
from tests.collector import OtlpReceiver, ScriptedResponse
from tests.conftest import FakeClock, cli_env, run_example, wait_for_exporters
from tests.test_poison import request_for

TOKEN = "pub" + "0123456789abcdef" * 2
API_KEY = "0123456789abcdef" * 2
APP_KEY = "0123456789abcdef" * 2 + "01234567"


@dataclass
class IntakeRequest:
    path: str
    query: dict[str, list[str]]
    content_type: str
    logs: list[dict[str, Any]]
    size: int
    status: int


@dataclass
class Intake:
    """A local stand-in for the Datadog browser logs intake. It checks every request
    against the documented format and records what it found wrong."""

    token: str = TOKEN
    responses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[IntakeRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    proxied: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str]]:
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        body = handler.rfile.read(int(handler.headers.get("content-length", "0")))
        problems = []
        if "ddforward" in query:
            # A proxy set up per Datadog's docs: the intake path and parameters come
            # URL-encoded in ``ddforward``; the proxy rebuilds the intake URL from them.
            url = urlsplit(query["ddforward"][0])
            query = parse_qs(url.query)
            self.proxied += 1
        if url.path != "/api/v2/logs":
            problems.append(f"path {url.path}")
        if query.get("ddsource") != ["browser"]:
            problems.append("ddsource")
        if query.get("dd-evp-origin") != ["browser"] or not query.get("dd-evp-origin-version"):
            problems.append("dd-evp-origin")
        if query.get("dd-api-key") != [self.token]:
            problems.append("dd-api-key")
        try:
            assert uuid.UUID(query["dd-request-id"][0]).version == 4
        except (KeyError, ValueError, AssertionError):
            problems.append("dd-request-id")
        content_type = handler.headers.get("content-type", "")
        if not content_type.startswith("text/plain"):
            problems.append(f"content-type {content_type}")
        logs = []
        lines = body.split(b"\n")
        if len(lines) > 50:
            problems.append(f"{len(lines)} logs in one request")
        if len(body) > 16 * 1024 + 2048:  # ~16 KiB recommended: one log may tip it over
            problems.append(f"{len(body)} bytes in one request")
        for line in lines:
            if len(line) > 256 * 1024:
                problems.append("log over 256 KiB")
            try:
                log = json.loads(line)
            except ValueError:
                problems.append("not JSON")
                continue
            for key in ("date", "message", "status", "service", "ddtags"):
                if key not in log:
                    problems.append(f"missing {key}")
            if not isinstance(log.get("date"), int):
                problems.append("date not ms integer")
            logs.append(log)
        with self.lock:
            status, headers = self.responses.pop(0) if self.responses else (202, {})
            self.violations.extend(problems)
            self.requests.append(
                IntakeRequest(url.path, query, content_type, logs, len(body), status)
            )
        return status, headers

    @property
    def logs(self) -> list[dict[str, Any]]:
        return [log for r in self.requests if r.status == 202 for log in r.logs]


@pytest.fixture
def intake() -> Iterator[tuple[Intake, str]]:
    """The intake on a free loopback port; yields it and its URL; stopped at the end."""
    state_ = Intake()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, headers = state_.handle(self)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state_, f"http://127.0.0.1:{server.server_address[1]}/api/v2/logs"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def spool_commands(home: Path, names: list[str], **kwargs: Any) -> Telemetry:
    telemetry = Telemetry(
        "assembly", version="1.2.3", home=home, env={}, spawn=lambda *a, **k: None, **kwargs
    )
    for name in names:
        with telemetry.command(name):
            pass
    return telemetry


def dd_dest(url: str) -> destination.Destination:
    return destination.Destination(kind=destination.DATADOG, endpoint=url, token=TOKEN)


def paths_for(home: Path) -> state.Paths:
    return state.Paths(home=home, config_dir=home)


# --- token and site ----------------------------------------------------------------


def test_client_token_accepted() -> None:
    """A Datadog client token is accepted with surrounding whitespace stripped."""
    assert vendors.validate_client_token(f" {TOKEN} ") == TOKEN


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (API_KEY, "API key"),
        (API_KEY.upper(), "API key"),
        (APP_KEY, "application key"),
        ("pub123", "not a Datadog client token"),
        ("", "not a Datadog client token"),
    ],
)
def test_keys_that_must_not_ship_are_refused(value: str, why: str) -> None:
    """An API or application key in a shipped CLI is refused, saying why, never echoing it."""
    with pytest.raises(ValueError, match=why) as caught:
        Datadog(value)
    if value:
        assert value not in str(caught.value)


@pytest.mark.parametrize(
    ("site", "host"),
    [
        (None, "browser-intake-datadoghq.com"),
        ("datadoghq.com", "browser-intake-datadoghq.com"),
        ("datadoghq.eu", "browser-intake-datadoghq.eu"),
        ("us3.datadoghq.com", "browser-intake-us3-datadoghq.com"),
        ("us5.datadoghq.com", "browser-intake-us5-datadoghq.com"),
        ("ap1.datadoghq.com", "browser-intake-ap1-datadoghq.com"),
        ("ddog-gov.com", "browser-intake-ddog-gov.com"),
        ("us3", "browser-intake-us3-datadoghq.com"),
        ("https://app.datadoghq.eu", "browser-intake-datadoghq.eu"),
    ],
)
def test_site_to_intake_url(site: str | None, host: str) -> None:
    """Each Datadog site spelling (name, short name, app URL, none) maps to its browser logs intake
    URL."""
    assert vendors.intake_url(site) == f"https://{host}/api/v2/logs"


def test_unknown_site_and_bad_proxy_are_refused() -> None:
    """An unknown Datadog site and a non-HTTP proxy URL are refused when the destination is made."""
    with pytest.raises(ValueError, match="unknown Datadog site"):
        Datadog(TOKEN, site="datadoghq.org")
    with pytest.raises(ValueError, match="proxy URL"):
        Datadog(TOKEN, proxy_url="ftp://x")


def test_environment_overrides_the_author(home: Path) -> None:
    """Token, site and intake URL from the environment win; bad env values are ignored."""
    other = "pub" + "f" * 32
    telemetry = Telemetry(
        "assembly",
        home=home,
        destinations=[Datadog(TOKEN)],
        env={
            "ASSEMBLY_TELEMETRY_DATADOG_CLIENT_TOKEN": other,
            "DD_SITE": "datadoghq.eu",
        },
    )
    [dest] = telemetry.destinations()
    assert (dest.kind, dest.token, dest.endpoint) == (
        "datadog",
        other,
        "https://browser-intake-datadoghq.eu/api/v2/logs",
    )
    proxied = Telemetry(
        "assembly",
        home=home,
        destinations=[Datadog(TOKEN)],
        env={
            "ASSEMBLY_TELEMETRY_DATADOG_URL": "https://proxy.example/dd?x=1",
            "ASSEMBLY_TELEMETRY_DATADOG_CLIENT_TOKEN": API_KEY,  # ignored: not a client token
            "DD_SITE": "nonsense",
        },
    )
    [dest] = proxied._resolved_destinations()
    assert (dest.token, dest.endpoint) == (TOKEN, "https://proxy.example/dd?x=1")
    url = datadog.DatadogLogsSink(dest).url()
    assert url.startswith("https://proxy.example/dd?x=1&ddforward=%2Fapi%2Fv2%2Flogs%3Fddsource")
    forwarded = urlsplit(parse_qs(urlsplit(url).query)["ddforward"][0])
    assert forwarded.path == "/api/v2/logs"
    assert parse_qs(forwarded.query)["dd-api-key"] == [TOKEN]
    assert TOKEN not in "\n".join(proxied.status().lines())


# --- the sink against the local intake ---------------------------------------------


def test_logs_have_the_documented_shape(home: Path, intake: tuple[Intake, str]) -> None:
    """One log per command span: message, status, service, date, ddtags, ids, attributes."""
    server, url = intake
    telemetry = spool_commands(home, ["transcribe"])
    with pytest.raises(SystemExit), telemetry.command("fail"):
        raise SystemExit(3)
    from otel_cli_telemetry._exporter.drain import drain

    report = drain(paths_for(home), dd_dest(url))
    assert report.delivered == 2
    assert server.violations == []
    ok, failed = server.logs
    assert ok["message"].startswith("assembly transcribe succeeded in ")
    assert ok["message"].endswith(" ms")
    assert ok["status"] == "info"
    assert ok["service"] == "assembly"
    tags = dict(t.split(":", 1) for t in ok["ddtags"].split(","))
    assert tags["version"] == "1.2.3"
    assert tags["outcome"] == "success"
    assert tags["os"] == "linux"
    assert len(ok["trace_id"]) == 32
    assert len(ok["span_id"]) == 16
    assert ok["dd"]["trace_id"] == str(int(ok["trace_id"][-16:], 16))
    assert ok["process.exit.code"] == 0
    assert ok["app.installation.id"]
    assert failed["status"] == "error"
    assert failed["message"].startswith("assembly fail failed with exit code 3 in ")
    assert failed["error.type"] == "_OTHER"


def test_batches_respect_the_intake_limits(home: Path, intake: tuple[Intake, str]) -> None:
    """120 commands: every request ≤ 50 logs and about 16 KiB; all delivered once."""
    server, url = intake
    spool_commands(home, [f"c{i}" for i in range(120)])
    from otel_cli_telemetry._exporter.drain import drain

    report = drain(paths_for(home), dd_dest(url))
    assert report.delivered == 120
    assert server.violations == []
    assert len(server.requests) >= 3
    assert sorted(log["command"] for log in server.logs) == sorted(
        f"assembly c{i}" for i in range(120)
    )


@pytest.mark.parametrize(("status", "kept"), [(400, False), (413, False), (403, False)])
def test_refusals_drop_and_record(
    home: Path, intake: tuple[Intake, str], status: int, kept: bool
) -> None:
    """400, 413 and 403 from the intake drop the trace from the spool and count it by status."""
    server, url = intake
    server.responses.append((status, {}))
    spool_commands(home, ["a"])
    from otel_cli_telemetry._exporter.drain import drain

    report = drain(paths_for(home), dd_dest(url))
    assert report.dropped == {f"refused_http_{status}": 1}
    assert bool(spool.entries(home / "spool")) is kept


def test_429_and_503_are_retried_with_retry_after(home: Path, intake: tuple[Intake, str]) -> None:
    """503 and 429 from the intake are retried until it accepts, waiting out its
    Retry-After (on the drain's faked clock) before the third request."""
    server, url = intake
    server.responses.extend([(503, {}), (429, {"Retry-After": "1"})])
    spool_commands(home, ["a"])
    from otel_cli_telemetry._exporter.drain import drain

    fake = FakeClock()
    report = drain(
        paths_for(home),
        dd_dest(url),
        deadline_s=15,
        clock=fake.monotonic,
        wall=fake.time,
        sleep=fake.sleep,
    )
    assert [r.status for r in server.requests] == [503, 429, 202]
    assert report.delivered == 1
    assert len(fake.slept) == 2
    assert fake.slept[1] >= 1.0
    assert server.violations == []


@pytest.mark.parametrize("status", [408, 500])
def test_408_and_every_5xx_are_retried(home: Path, intake: tuple[Intake, str], status: int) -> None:
    """The intake's retry set is wider than OTLP's: 408 and any 5xx are retried too (the
    back-off slept through the drain's hook)."""
    server, url = intake
    server.responses.append((status, {}))
    spool_commands(home, ["a"])
    from otel_cli_telemetry._exporter.drain import drain

    waits: list[float] = []
    report = drain(paths_for(home), dd_dest(url), sleep=waits.append)
    assert [r.status for r in server.requests] == [status, 202]
    assert report.delivered == 1
    assert len(waits) == 1
    assert delivery.load(home / "delivery.json").dropped == {}


def test_a_log_over_the_size_limit_is_counted_not_lost_silently(
    home: Path, intake: tuple[Intake, str]
) -> None:
    """A command whose log would pass 256 KiB is left out of the request, the others go,
    and the loss is counted where ``status`` shows it."""
    server, url = intake
    huge = {"key": "note", "value": {"stringValue": "x" * datadog.MAX_LOG_BYTES}}
    state.ensure_dir(home)
    for request in (request_for("small"), request_for("huge", [huge])):
        enqueue.write(home / "spool", json.dumps(request).encode())
    from otel_cli_telemetry._exporter.drain import drain

    report = drain(paths_for(home), dd_dest(url))
    assert [log["command"] for log in server.logs] == ["small"]
    assert (report.delivered, report.remaining) == (2, 0)
    assert delivery.load(home / "delivery.json").dropped == {"refused_log_too_large": 1}
    status = "\n".join(Telemetry("assembly", home=home, env={}).status().lines())
    assert "dropped: refused_log_too_large=1" in status


# --- both destinations at once -------------------------------------------------------


def test_both_destinations_one_failing(home: Path, intake: tuple[Intake, str]) -> None:
    """OTLP down, Datadog up: Datadog gets each log once; OTLP keeps its queue until it is
    back, then gets everything once."""
    server, url = intake
    with OtlpReceiver([ScriptedResponse(503)]) as otlp:
        telemetry = spool_commands(
            home, ["a", "b"], destinations=[Datadog(TOKEN, proxy_url=url), OTLP(otlp.url)]
        )
        destinations = telemetry._resolved_destinations()
        assert [d.kind for d in destinations] == ["otlp", "datadog"]
        run_child(paths_for(home), [
            destination.Destination(**{**destinations[0].to_json(), "deadline_s": 3.0}),
            destinations[1],
        ], linger_s=0)  # fmt: skip
        assert sorted(log["command"] for log in server.logs) == ["assembly a", "assembly b"]
        assert len(spool.entries(home / "spool")) == 2  # OTLP's queue kept
        assert spool.entries(home / "spool-datadog") == []
        assert delivery.load(home / "delivery.json").in_backoff()
        assert not delivery.load(home / "delivery-datadog.json").in_backoff()

        assert [r.status for r in otlp.requests] == [503]
        report = telemetry.flush(timeout=10)  # the OTLP backend answers 200 from now on
        assert report.remaining == 0
        assert sorted(s.name for s in otlp.spans()) == ["assembly a", "assembly b"]
    assert len(server.logs) == 2  # no duplicate on Datadog's side


def test_real_cli_ships_to_datadog_through_the_child(
    home: Path, reap_exporters: Path, intake: tuple[Intake, str]
) -> None:
    """The example CLI with only env configuration: its detached child posts the log."""
    server, url = intake
    env = cli_env(
        home,
        ASSEMBLY_TELEMETRY_DATADOG_CLIENT_TOKEN=TOKEN,
        ASSEMBLY_TELEMETRY_DATADOG_URL=url,
    )
    result = run_example("typer_cli.py", "transcribe", "secret.wav", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    wait_for_exporters(home)
    assert server.violations == []
    [log] = server.logs
    assert log["command"] == "assembly transcribe"
    assert "secret.wav" not in json.dumps(server.logs)


def test_ap2_site_and_its_intake() -> None:
    """``ap2.datadoghq.com`` (and its short name) is a Datadog site with its own intake."""
    assert vendors.normalise_site("ap2") == "ap2.datadoghq.com"
    assert vendors.intake_url("https://app.ap2.datadoghq.com") == (
        "https://browser-intake-ap2-datadoghq.com/api/v2/logs"
    )


def test_intake_parameters_are_the_browser_sdks() -> None:
    """Straight to the intake: the browser SDK's parameters, ``dd-evp-origin`` and its
    version included, in the query of the intake URL itself (no ``ddforward``)."""
    url = datadog.request_url(vendors.intake_url("eu"), TOKEN, str(uuid.uuid4()))
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.hostname, parts.path) == ("browser-intake-datadoghq.eu", "/api/v2/logs")
    assert query["ddsource"] == ["browser"]
    assert query["dd-evp-origin"] == ["browser"]
    from otel_cli_telemetry._version import __version__

    assert query["dd-evp-origin-version"] == [__version__]
    assert "ddforward" not in query


def test_proxy_gets_the_documented_ddforward_form(home: Path, intake: tuple[Intake, str]) -> None:
    """Through a proxy, each request carries the intake path and parameters in
    ``ddforward`` only, so a proxy built per Datadog's guide routes it (the local intake
    plays that proxy: it rebuilds the intake request from ``ddforward`` and checks it)."""
    server, url = intake
    proxy = url.rsplit("/api/", 1)[0] + "/dd-proxy"
    target = urlsplit(datadog.DatadogLogsSink(dd_dest(proxy)).url())
    assert target.path == "/dd-proxy"
    assert list(parse_qs(target.query)) == ["ddforward"]
    spool_commands(home, ["a"])
    from otel_cli_telemetry._exporter.drain import drain

    report = drain(paths_for(home), dd_dest(proxy))
    assert report.delivered == 1
    assert server.proxied == len(server.requests) == 1
    assert server.violations == []
