"""Privacy and security: nothing secret leaves, files stay private, TLS is verified."""

from __future__ import annotations

import http.server
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import destination, enqueue, spool, state
from otel_cli_telemetry._exporter.drain import drain
from otel_cli_telemetry._process import attributes
from tests.collector import OtlpReceiver
from tests.conftest import EXAMPLES, cli_env, wait_for_exporters

SECRETS = {
    "argument": "argsecret-7f3a",
    "option": "optsecret-91bc",
    "environment": "envsecret-c0de",
    "cwd": "cwdsecret-5e11",
    "exception": "excsecret-d00d",
}


def _all_bytes_under(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())


@pytest.mark.collector
def test_secrets_never_leave_the_process(tmp_path: Path, reap_exporters: Path, home: Path) -> None:
    """Secret-looking arguments, options, env values, cwd and exception messages: none of
    them reaches the receiver or any file in the state dir."""
    workdir = tmp_path / SECRETS["cwd"]
    workdir.mkdir()
    with OtlpReceiver() as receiver:
        env = cli_env(
            home,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            API_TOKEN=SECRETS["environment"],
            GITHUB_ACTIONS="true",
        )
        runs = [
            ["transcribe", SECRETS["argument"], "--language", SECRETS["option"]],
            ["crash", "--secret", SECRETS["exception"]],
        ]
        for args in runs:
            subprocess.run(
                [sys.executable, str(EXAMPLES / "typer_cli.py"), *args],
                env=env, cwd=workdir, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        receiver.wait_for_spans(3, timeout=20)
        wait_for_exporters(home)
        sent = b"".join((r.payload or r.body) for r in receiver.requests)
    stored = _all_bytes_under(home)
    assert b"assembly transcribe" in sent  # the test would be vacuous otherwise
    for where, secret in SECRETS.items():
        assert secret.encode() not in sent, where
        assert secret.encode() not in stored, where
    assert str(workdir).encode() not in sent
    assert os.environ.get("USER", "root").encode() + b"@" not in sent


def test_files_are_private(home: Path) -> None:
    """Everything the library creates is 0600 in 0700 directories."""
    telemetry = Telemetry("assembly", home=home, env={}, spawn=lambda *a, **k: None)
    with telemetry.command("x"):
        pass
    telemetry.disable()
    for path in [home, *home.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


@pytest.mark.skipif(not hasattr(os, "chown") or os.geteuid() != 0, reason="needs root to chown")
def test_home_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    """A home owned by another user turns telemetry off as ``unsafe_home`` and status says why."""
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    os.chown(other, 65534, 65534)
    decision = Telemetry("assembly", home=other, env={}).consent()
    assert (decision.enabled, decision.rule) == (False, "unsafe_home")
    assert "another user" in Telemetry("assembly", home=other, env={}).status().detail


def test_oversized_and_non_json_spool_files_are_never_executed(home: Path) -> None:
    """Spool files are data: a pickle or a huge file is quarantined, never loaded."""
    import pickle

    spool_dir = home / "spool"
    spool_dir.mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    marker = home / "pwned"
    payload = pickle.dumps(os.system)  # would be dangerous if unpickled
    (spool_dir / f"{'1' * 19}9-1-pickle.json").write_bytes(payload + str(marker).encode())
    (spool_dir / f"{'1' * 19}8-1-huge.json").write_bytes(b" " * (enqueue.MAX_FILE_BYTES + 10))
    paths = state.Paths(home=home, config_dir=home)
    import time

    now = time.time_ns()
    for entry in spool.entries(spool_dir):
        os.utime(entry.path, ns=(now, now))
    report = drain(paths, destination.Destination(), deadline_s=5)
    assert not marker.exists()
    assert report.delivered == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x" * 5000, "x" * 1024),
        (3, 3),
        (2**70, None),
        (float("nan"), "nan"),
        (["a", "b"], ("a", "b")),
        (["a", 1], None),
        ({"nested": "dict"}, None),
        (None, None),
        (object(), None),
        ("bad \udcff", "bad ?"),
    ],
)
def test_author_attribute_values_are_validated(value: object, expected: object) -> None:
    """Author attribute values are truncated, sanitised or dropped when OTLP cannot carry them."""
    cleaned = attributes.clean_user_value(value)
    if expected == "nan":
        assert isinstance(cleaned, float)
        assert cleaned != cleaned
    else:
        assert cleaned == expected


def test_invalid_author_attributes_never_print(
    home: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Bad attribute values are dropped silently: the SDK's warnings never reach stderr."""
    telemetry = Telemetry("assembly", home=home, env={}, spawn=lambda *a, **k: None)
    with telemetry.command("x", attributes={"ok": 1, "bad": object(), 7: "key"}) as handle:
        handle.set_attribute("also.bad", {"a": 1})
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


# --- TLS ------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """An HTTPS OTLP endpoint on 127.0.0.1 with a certificate from a private CA."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    # Certificates as a real private CA issues them: Python 3.13 verifies with
    # VERIFY_X509_STRICT, which wants a critical CA basicConstraints and key identifiers.
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=test-ca",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=tmp_path)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
             "server.csr", "-subj", "/CN=127.0.0.1", cwd=tmp_path)  # fmt: skip
    (tmp_path / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        "subjectKeyIdentifier=hash\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
             cwd=tmp_path)  # fmt: skip
    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            paths.append(self.path)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", tmp_path / "ca.pem", paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_tls_is_verified_and_a_custom_ca_is_honoured(
    home: Path, tls_server: tuple[str, Path, list[str]]
) -> None:
    """Unknown CA: nothing is sent (kept for later). OTEL_EXPORTER_OTLP_CERTIFICATE: sent."""
    url, ca_file, paths = tls_server
    telemetry = Telemetry(
        "assembly", home=home, env={"OTEL_EXPORTER_OTLP_ENDPOINT": url}, spawn=lambda *a, **k: None
    )
    with telemetry.command("x"):
        pass
    report = telemetry.flush(timeout=3)
    assert report.delivered == 0
    assert paths == []
    assert (report.last_error or "").startswith("transport")
    trusting = Telemetry(
        "assembly",
        home=home,
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_EXPORTER_OTLP_CERTIFICATE": str(ca_file)},
    )
    assert trusting.flush(timeout=5).delivered == 1
    assert paths == ["/v1/traces"]
