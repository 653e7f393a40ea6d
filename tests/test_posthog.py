"""Identity linking and the PostHog sink, against a local server that checks the body."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from otel_cli_telemetry import PostHog, Telemetry
from otel_cli_telemetry._disk import identity, state, vendors
from otel_cli_telemetry._exporter.drain import drain
from otel_cli_telemetry._exporter.sinks import posthog
from tests.conftest import ROOT, FakeClock

KEY = "phc_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"


@dataclass
class PostHogServer:
    responses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    batches: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, str]]:
        problems = []
        if path != "/batch/":
            problems.append(f"path {path}")
        if not content_type.startswith("application/json"):
            problems.append("content-type")
        batch: list[dict[str, Any]] = []
        try:
            data = json.loads(body)
            if data.get("api_key") != KEY:
                problems.append("api_key")
            batch = data["batch"]
            for event in batch:
                for key in ("event", "distinct_id", "properties", "timestamp", "uuid"):
                    if key not in event:
                        problems.append(f"missing {key}")
                uuid.UUID(event["uuid"])
                if event["event"] == "$create_alias" and "alias" not in event["properties"]:
                    problems.append("alias without properties.alias")
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"bad body: {exc!r}")
        with self.lock:
            status, headers = self.responses.pop(0) if self.responses else (200, {})
            self.violations.extend(problems)
            self.batches.append((status, batch))
        return status, headers

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for status, batch in self.batches if status == 200 for e in batch]


@pytest.fixture
def server() -> Iterator[tuple[PostHogServer, str]]:
    recorder = PostHogServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status, headers = recorder.handle(self.path, self.headers.get("content-type", ""), body)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", "15")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}'[:15])

        def log_message(self, format: str, *args: Any) -> None:
            return None

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield recorder, f"http://127.0.0.1:{http.server_address[1]}"
    finally:
        http.shutdown()
        http.server_close()
        thread.join(timeout=5)


def make(home: Path, host: str, **kwargs: Any) -> Telemetry:
    return Telemetry(
        "assembly",
        version="1.2.3",
        home=home,
        env={},
        spawn=lambda *a, **k: None,
        destinations=[PostHog(KEY, host=host)],
        **kwargs,
    )


def run(telemetry: Telemetry, *names: str) -> None:
    for name in names:
        with telemetry.command(name):
            pass


def deliver(home: Path, telemetry: Telemetry, clock: FakeClock | None = None) -> None:
    """Drain the queue in the foreground (on ``clock``'s fake time when given)."""
    [dest] = telemetry._resolved_destinations()
    seams: dict[str, Any] = {}
    if clock is not None:
        seams = {"clock": clock.monotonic, "wall": clock.time, "sleep": clock.sleep}
    report = drain(state.Paths(home=home, config_dir=home), dest, deadline_s=15, **seams)
    assert report.remaining == 0, report


def test_keys(server: tuple[PostHogServer, str]) -> None:
    """A project key is accepted trimmed; a personal key (never echoed), a non-project key and a
    non-HTTP host are refused."""
    assert vendors.validate_api_key(f" {KEY} ") == KEY
    with pytest.raises(ValueError, match="personal API key") as caught:
        PostHog("phx_" + "z" * 30)
    assert "z" * 30 not in str(caught.value)
    with pytest.raises(ValueError, match="not a PostHog project API key"):
        PostHog("0123456789abcdef0123456789abcdef")
    with pytest.raises(ValueError, match="http"):
        PostHog(KEY, host="ftp://x")


def test_anonymous_events(home: Path, server: tuple[PostHogServer, str]) -> None:
    """Events carry the installation id and do not create person profiles."""
    recorder, host = server
    telemetry = make(home, host, identity_linking=True)
    run(telemetry, "transcribe")
    with pytest.raises(SystemExit), telemetry.command("fail"):
        raise SystemExit(3)
    deliver(home, telemetry)
    assert recorder.violations == []
    ok, failed = recorder.events
    install_id = identity.read(state.Paths(home=home, config_dir=home)).installation_id
    assert ok["event"] == "cli command executed"
    assert ok["distinct_id"] == install_id
    props = ok["properties"]
    assert props["command"] == "assembly transcribe"
    assert (props["outcome"], props["exit_code"], props["version"]) == ("success", 0, "1.2.3")
    assert props["os"] == "linux"
    assert props["$process_person_profile"] is False
    assert (failed["properties"]["exit_code"], failed["properties"]["error_type"]) == (3, "_OTHER")


def test_events_name_their_sender(home: Path, server: tuple[PostHogServer, str]) -> None:
    """``$lib`` and ``$lib_version`` identify the library on command and alias events, as
    PostHog's own SDKs set them; a sampled app's events carry its sample rate."""
    from otel_cli_telemetry._version import __version__

    recorder, host = server
    telemetry = make(home, host, identity_linking=True, sample_rate=1.0)
    run(telemetry, "transcribe")
    telemetry.link_identity("user-42")
    run(telemetry, "again")
    deliver(home, telemetry)
    assert recorder.violations == []
    assert [e["event"] for e in recorder.events] == [
        "cli command executed", "$create_alias", "cli command executed",
    ]  # fmt: skip
    for event in recorder.events:
        assert event["properties"]["$lib"] == "otel-cli-telemetry"
        assert event["properties"]["$lib_version"] == __version__
        assert "sample_rate" not in event["properties"]


def test_login_aliases_before_events_even_with_a_mixed_spool(
    home: Path, server: tuple[PostHogServer, str]
) -> None:
    """Spool: events from before login, then after. The alias goes out before the first
    event that uses the principal id; repeating the login sends no second alias."""
    recorder, host = server
    telemetry = make(home, host, identity_linking=True)
    run(telemetry, "before1", "before2")
    anon = identity.read(state.Paths(home=home, config_dir=home)).installation_id
    assert telemetry.link_identity("user-42") is True
    assert telemetry.link_identity("user-42") is False  # idempotent
    run(telemetry, "after1", "after2")
    deliver(home, telemetry)
    assert recorder.violations == []
    events = recorder.events
    kinds = [(e["event"], e["distinct_id"]) for e in events]
    assert kinds == [
        ("cli command executed", anon),
        ("cli command executed", anon),
        ("$create_alias", "user-42"),
        ("cli command executed", "user-42"),
        ("cli command executed", "user-42"),
    ]
    assert events[2]["properties"]["alias"] == anon
    assert "$process_person_profile" not in events[3]["properties"]


def test_logout_rotates_and_relogin_never_merges_two_accounts(
    home: Path, server: tuple[PostHogServer, str]
) -> None:
    """Logout rotates the anonymous id and every login aliases a fresh one, so two accounts never
    share an anonymous id."""
    recorder, host = server
    telemetry = make(home, host, identity_linking=True)
    paths = state.Paths(home=home, config_dir=home)
    telemetry.link_identity("alice")
    first_anon = identity.read(paths).installation_id
    telemetry.unlink_identity()
    after_logout = identity.read(paths)
    assert after_logout.linked_principal_id is None
    assert after_logout.installation_id != first_anon
    run(telemetry, "anon-again")
    telemetry.link_identity("bob")
    telemetry.link_identity("carol")  # switching account without logout
    deliver(home, telemetry)
    aliases = [(e["properties"]["alias"], e["distinct_id"]) for e in recorder.events
               if e["event"] == "$create_alias"]  # fmt: skip
    anon_ids = [a for a, _ in aliases]
    assert len(anon_ids) == len(set(anon_ids)) == 3  # no anonymous id aliased twice
    [anon_event] = [e for e in recorder.events if e["event"] != "$create_alias"]
    assert anon_event["distinct_id"] == after_logout.installation_id


def test_offline_login_and_linking_disabled_stay_anonymous(
    home: Path, server: tuple[PostHogServer, str]
) -> None:
    """An unverified login or an author without identity linking stays anonymous: no person profile,
    no linked id."""
    recorder, host = server
    telemetry = make(home, host, identity_linking=True)
    assert telemetry.link_identity(None) is False  # the account could not be checked
    assert telemetry.link_identity("") is False
    off = make(home, host)  # identity_linking defaults to False: personal data stays out
    assert off.link_identity("user-1") is False
    run(off, "x")
    deliver(home, off)
    [event] = recorder.events
    assert event["properties"]["$process_person_profile"] is False
    assert identity.read(state.Paths(home=home, config_dir=home)).linked_principal_id is None


def test_user_id_only_while_linked_and_enabled(
    home: Path, server: tuple[PostHogServer, str]
) -> None:
    """``user.id`` is on spans only while an identity is linked and the author enabled linking."""
    from otel_cli_telemetry.testing import capture_spans

    _, host = server
    telemetry = make(home, host, identity_linking=True)
    telemetry.link_identity("user-7")
    with capture_spans() as captured:
        run(telemetry, "x")
    [span] = captured.commands
    assert span.resource["user.id"] == "user-7"
    with capture_spans() as captured:
        run(make(home, host), "y")  # same state, linking not enabled by this author
    [span] = captured.commands
    assert "user.id" not in span.resource
    telemetry.unlink_identity()
    with capture_spans() as captured:
        run(telemetry, "z")
    [span] = captured.commands
    assert "user.id" not in span.resource


@pytest.mark.parametrize(
    ("answers", "statuses", "delivered"),
    [
        ([(503, {}), (429, {"Retry-After": "1"})], [503, 429, 200], True),
        ([(400, {})], [400], False),
    ],
)
def test_retries_and_refusals(
    home: Path,
    server: tuple[PostHogServer, str],
    answers: list[tuple[int, dict[str, str]]],
    statuses: list[int],
    delivered: bool,
) -> None:
    """503 then 429 (Retry-After, waited out on a fake clock) are retried until PostHog
    accepts; a 400 is a refusal: one request, nothing delivered, nothing left queued."""
    recorder, host = server
    recorder.responses.extend(answers)
    telemetry = make(home, host)
    run(telemetry, "x")
    fake = FakeClock()
    deliver(home, telemetry, fake)
    assert [status for status, _ in recorder.batches] == statuses
    assert bool(recorder.events) is delivered
    if delivered:
        assert len(fake.slept) == 2
        assert fake.slept[1] >= 1.0
    else:
        assert fake.slept == []


@pytest.mark.parametrize("status", [408, 500])
def test_408_and_every_5xx_are_retried(
    home: Path, server: tuple[PostHogServer, str], status: int
) -> None:
    """PostHog's retry set is wider than OTLP's: 408 and any 5xx are retried too (the
    back-off slept through the drain's hook)."""
    recorder, host = server
    recorder.responses.append((status, {}))
    telemetry = make(home, host)
    run(telemetry, "x")
    [dest] = telemetry._resolved_destinations()
    waits: list[float] = []
    report = drain(state.Paths(home=home, config_dir=home), dest, sleep=waits.append)
    assert [answer for answer, _ in recorder.batches] == [status, 200]
    assert (report.delivered, len(waits)) == (1, 1)
    assert [event["event"] for event in recorder.events] == [posthog.EVENT]


_WORKER = """
import sys
from pathlib import Path
from otel_cli_telemetry import PostHog, Telemetry
home, host, key, n = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
telemetry = Telemetry("assembly", home=home, env={}, spawn=lambda *a, **k: None,
                      destinations=[PostHog(key, host=host)], identity_linking=True)
for round in range(3):
    telemetry.link_identity(f"user-{n}")
    with telemetry.command("work"):
        pass
    telemetry.unlink_identity()
    with telemetry.command("anon"):
        pass
"""


def test_twenty_processes_at_once(home: Path, server: tuple[PostHogServer, str]) -> None:
    """20 processes logging in, out and running commands at once: the state file stays
    valid, and no anonymous id is ever aliased to two accounts."""
    recorder, host = server
    home.mkdir(mode=0o700)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(home), host, KEY, str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(20)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert (out, err) == (b"", b"")
    data = json.loads((home / "state.json").read_text())
    assert uuid.UUID(data["installation_id"]).version == 4
    deliver(home, make(home, host))
    assert recorder.violations == []
    events = recorder.events
    assert len([e for e in events if e["event"] == "cli command executed"]) == 20 * 3 * 2
    aliased: dict[str, str] = {}
    for event in events:
        if event["event"] == "$create_alias":
            anon = event["properties"]["alias"]
            assert aliased.setdefault(anon, event["distinct_id"]) == event["distinct_id"]
    for event in events:
        if event["event"] == "cli command executed":
            distinct = event["distinct_id"]
            assert distinct.startswith("user-") or uuid.UUID(distinct).version == 4
            if distinct.startswith("user-"):
                assert "$process_person_profile" not in event["properties"]
