"""What an adversarial review of this round found, each reproduced and shown fixed: an
upgraded queue sent where its record does not say, a chunked answer misread, framing
headers a configuration could duplicate, a password with ``/`` printed, a non-ASCII path,
and a last request started too close to the exporter's deadline."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import delivery, destination, inventory, spool, state, urls
from otel_cli_telemetry._exporter import child
from otel_cli_telemetry._exporter.sinks._fields import merged as _merged
from otel_cli_telemetry._exporter.sinks._proxy import split_url
from otel_cli_telemetry._exporter.sinks._wire import Client, Unusable
from tests.collector import OtlpReceiver
from tests.test_exporter_lifecycle import FakeTime


def paths_for(home: Path) -> state.Paths:
    return state.Paths(home=home, config_dir=home)


def record(home: Path, name: str, env: dict[str, str] | None = None) -> None:
    """One real command span, spooled through the real pipeline (exporter launch faked)."""
    telemetry = Telemetry("assembly", home=home, env=env or {}, spawn=lambda *a, **k: None)
    with telemetry.command(name):
        pass


def _as_earlier_version(home: Path, with_destination_json: bool) -> None:
    """Turn ``home`` into what an earlier version left: bare requests in ``spool/`` (no
    decision record), no queue record, and (maybe) ``destination.json`` naming the file sink."""
    for entry in spool.entries(home / "spool"):
        data = json.loads(Path(entry.path).read_text())
        Path(entry.path).write_text(json.dumps(data["request"]))
    for record_file in home.glob("queue*.json"):
        record_file.unlink()
    if with_destination_json:
        legacy = {"destinations": [destination.Destination().to_json()]}
        (home / "destination.json").write_text(json.dumps(legacy))
        (home / "destination.json").chmod(0o600)


@pytest.mark.parametrize("with_destination_json", [True, False])
def test_an_upgraded_local_queue_never_goes_to_a_new_network_destination(
    home: Path, with_destination_json: bool
) -> None:
    """Traces an earlier version queued for the local file stay the local file's when the
    next command records for an OTLP endpoint: the endpoint receives only the new trace."""
    record(home, "legacy")
    _as_earlier_version(home, with_destination_json)
    with OtlpReceiver() as receiver:
        record(home, "new", {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url})
        queues = inventory.recorded(paths_for(home))
        child.run_child(paths_for(home), [d for _, d in queues], linger_s=0)
        sent = [s.name for s in receiver.wait_for_spans(1)]
    assert sent == ["assembly new"]
    local = (home / "traces.jsonl").read_text()
    assert "assembly legacy" in local
    assert "assembly new" not in local


def _serve_once(answer: Callable[[socket.socket], None]) -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that reads one request head, then runs ``answer``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    heads: list[bytes] = []

    def run() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            heads.append(data.partition(b"\r\n\r\n")[0])
            answer(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/v1/traces", heads
    finally:
        server.close()
        thread.join(timeout=10)


@pytest.fixture
def chunked_in_pieces() -> Iterator[tuple[str, list[bytes]]]:
    def answer(conn: socket.socket) -> None:
        body = b'{"partialSuccess":{}}'
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        for piece in (head, b"%x\r\n" % len(body) + body, b"\r\n", b"0\r\n\r\n"):
            conn.sendall(piece)
            threading.Event().wait(0.05)  # each piece its own segment, as servers write

    yield from _serve_once(answer)


def test_a_chunked_answer_written_in_pieces_is_read(
    chunked_in_pieces: tuple[str, list[bytes]],
) -> None:
    """The CRLF after a chunk's data may come in a later read: the answer is still a 200
    with its body (it was a ProtocolError, so the batch was sent again and again)."""
    url, _ = chunked_in_pieces
    client = Client()
    try:
        response = client.post(url, b"{}", {"content-type": "application/json"}, 5)
    finally:
        client.close()
    assert (response.status, response.body, response.truncated) == (
        200,
        b'{"partialSuccess":{}}',
        False,
    )


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[bytes]]]:
    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    yield from _serve_once(answer)


def test_configured_headers_never_duplicate_ours(recorder: tuple[str, list[bytes]]) -> None:
    """A configured ``host`` or ``Content-Type`` replaces ours whatever its case: one field
    per name goes out, and Content-Length is ours alone."""
    url, heads = recorder
    client = Client()
    try:
        client.post(
            url, b"12345", {"host": "otlp.example", "Content-Type": "a", "content-type": "b"}, 5
        )
    finally:
        client.close()
    lines = [line.lower() for line in heads[0].split(b"\r\n")[1:]]
    names = [line.partition(b":")[0] for line in lines]
    assert sorted(names) == [b"content-length", b"content-type", b"host"]
    assert b"host: otlp.example" in lines
    assert b"content-type: b" in lines
    assert b"content-length: 5" in lines


@pytest.mark.parametrize(
    "name", ["Content-Length", "transfer-encoding", "Connection", "Proxy-Authorization"]
)
def test_a_configured_framing_header_is_an_unusable_setting(name: str) -> None:
    """Headers that frame the message or the hop are refused as a setting, never sent."""
    with pytest.raises(Unusable, match="header_reserved"):
        _merged({"Host": "h"}, {name: "0"})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://alice:S3cret/PW@127.0.0.1:4318/v1/traces", "http://127.0.0.1:4318/v1/traces"),
        ("http://alice:S3cret?PW@h:1/x", "http://h:1/x"),
        ("http://alice:S3cret#PW@h/x?k=v", "http://h/x?k=***"),
        ("https://h:4318/p?api-key=X&flag#f", "https://h:4318/p?api-key=***&***#***"),
    ],
)
def test_a_password_holding_url_delimiters_is_never_shown(url: str, shown: str) -> None:
    """Userinfo goes whatever characters the password holds (``/``, ``?``, ``#``)."""
    assert urls.redact(url) == shown
    assert "S3cret" not in urls.redact_text(f"endpoint {url} failed")


def test_a_path_outside_ascii_is_sent_percent_encoded() -> None:
    """A non-ASCII character or a space in the endpoint's path goes out percent-encoded,
    what was already encoded left alone."""
    target = split_url("http://h:1/v1/tr\u00e4ces a%2F?x=1")[3]
    assert target == "/v1/tr%C3%A4ces%20a%2F?x=1"


def test_a_queue_sent_to_once_is_not_sent_again_too_close_to_the_deadline(home: Path) -> None:
    """A trace that comes 1.5 s before the exporter's deadline, to a queue it already sent
    to, is left to the next exporter (a request that short could be cut, counted as a
    failure and sent twice), which this one starts: nothing failed, nothing backs off."""
    started: list[state.Paths] = []
    with OtlpReceiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        record(home, "a", env)
        [(_, dest)] = inventory.recorded(paths_for(home))
        short = destination.Destination(**{**dest.to_json(), "deadline_s": 3.0})
        fake = FakeTime()
        fake.hooks[6] = lambda: record(home, "b", env)  # at 1.5 s of 3
        child.run_child(
            paths_for(home),
            [short],
            clock=fake.clock,
            sleep=fake.sleep,
            linger_s=3.0,
            successor=lambda paths: started.append(paths) or 1,  # type: ignore[func-returns-value]
        )
        sent = [s.name for s in receiver.wait_for_spans(1)]
    kept = delivery.load(home / "delivery.json")
    assert sent == ["assembly a"]
    assert len(spool.entries(home / "spool")) == 1
    assert (kept.failures, kept.in_backoff()) == (0, False)
    assert len(started) == 1  # the trace's command found the marker held: this child starts one
