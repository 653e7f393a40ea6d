"""What one exporter run costs the machine, per destination kind, in instructions.

    python benchmarks/bench_exporter.py                 # every kind, one run each
    python benchmarks/bench_exporter.py --kinds file otlp-protobuf
    python benchmarks/bench_exporter.py --markdown benchmarks/RESULTS-exporter.md

For each kind, one trace is spooled in a fresh state directory (the real pipeline, the spawn
faked), then one real exporter child (the command line and environment the launcher gives
it) runs under ``valgrind --tool=callgrind --trace-children=no`` and delivers it: to the local
file, or to a loopback receiver answering 200 (OTLP http/protobuf and http/json, Datadog's
intake through a proxy URL, PostHog's ``/batch/``) with the body an OTLP receiver sends for a
full success (none in protobuf, ``{}`` in JSON). The figure is "Collected" (instructions,
deterministic: the same however loaded the machine). The bare lean CLI command
(``BENCH_MODE=bare lean_cli.py run``) is measured the same way: the ratio is to it.
Linux only; needs valgrind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"
TOKEN_DD = "pub" + "0a" * 16
TOKEN_PH = "phc_" + "a1B2" * 8
KINDS = ("file", "otlp-protobuf", "otlp-json", "datadog", "posthog")


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.posts.append(self.path)
        # As an OTLP receiver answers a full success: an empty ExportTraceServiceResponse,
        # which is no bytes at all in protobuf, ``{}`` in JSON (and for the intakes).
        protobuf = self.headers.get("Content-Type") == "application/x-protobuf"
        body = b"" if protobuf else b"{}"
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("Content-Type") or "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _destinations(kind: str, url: str) -> tuple[list[Any], dict[str, str]]:
    from otel_cli_telemetry import destinations as d

    if kind == "file":
        return [], {}
    if kind.startswith("otlp-"):
        protocol = "http/protobuf" if kind == "otlp-protobuf" else "http/json"
        return [d.OTLP(url, protocol=protocol)], {}
    if kind == "datadog":
        return [d.Datadog(TOKEN_DD, proxy_url=url + "/dd")], {}
    return [d.PostHog(TOKEN_PH, host=url)], {}


def spool_one(home: Path, kind: str, url: str) -> None:
    """One command's trace, spooled by the real pipeline (the exporter launch faked)."""
    from otel_cli_telemetry import Telemetry

    listed, env = _destinations(kind, url)
    telemetry = Telemetry(
        "benchcli",
        version="1.0.0",
        home=home,
        env=env,
        destinations=listed or None,
        spawn=lambda *a, **k: None,
    )
    with telemetry.command("run"):
        pass


def callgrind(argv: Sequence[str], env: dict[str, str], cwd: Path) -> int:
    """Instructions of one process (not its children), from callgrind's "Collected"."""
    done = subprocess.run(
        [
            VALGRIND,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--trace-children=no",
            *argv,
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=600,
        check=False,
    )
    found = re.search(rb"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no callgrind figure for {argv}: {done.stderr[-500:]!r}")
    return int(found.group(1))


def base_env(root: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "BENCHCLI_", "BENCH_", "PYTHONPROFILE"))
        and k not in {"DO_NOT_TRACK", "TRACEPARENT", "TRACESTATE", "PYTHONDONTWRITEBYTECODE"}
    }
    return {**env, "PYTHONPYCACHEPREFIX": str(root / "pycache")}


def measure_kind(root: Path, kind: str, receiver: _Receiver) -> tuple[int, str]:
    from otel_cli_telemetry._process import launcher

    home = root / "homes" / kind
    env = {**base_env(root), **launcher.child_env(base_env(root), home)}
    argv = launcher.argv()
    # Once unmeasured, to warm the bytecode cache under root/pycache, then the real run.
    spool_one(home, kind, receiver.url)
    subprocess.run(argv, env=env, cwd=launcher.CHILD_CWD, timeout=60, check=False)
    spool_one(home, kind, receiver.url)
    before = len(receiver.posts)
    count = callgrind(argv, env, Path(launcher.CHILD_CWD))
    delivery = json.loads((home / "delivery.json").read_text()) if kind == "file" else {}
    if kind == "file":
        note = f"delivered={delivery.get('delivered')}"
    else:
        note = f"requests={len(receiver.posts) - before}"
    return count, note


def measure_bare(root: Path) -> int:
    env = {**base_env(root), "BENCH_MODE": "bare"}
    argv = [sys.executable, str(HERE / "lean_cli.py"), "run"]
    subprocess.run(argv, env=env, cwd=root, capture_output=True, timeout=60, check=False)
    return callgrind(argv, env, root)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    if not os.path.exists(VALGRIND):
        print("valgrind not found: nothing measured", file=sys.stderr)
        return 2
    receiver = _Receiver()
    root = Path(tempfile.mkdtemp(prefix="bench-exporter-"))
    rows: list[tuple[str, str, str, str]] = []
    try:
        bare = measure_bare(root)
        print(f"{'kind':<16} {'instructions':>14} {'ratio to bare':>14}  note")
        print(f"{'bare lean CLI':<16} {bare:>14,} {1.0:>14.2f}")
        rows.append(("bare lean CLI", f"{bare:,}", "1.00", ""))
        for kind in args.kinds:
            count, note = measure_kind(root, kind, receiver)
            print(f"{kind:<16} {count:>14,} {count / bare:>14.2f}  {note}")
            rows.append((kind, f"{count:,}", f"{count / bare:.2f}", note))
    finally:
        receiver.shutdown()
        receiver.server_close()
        shutil.rmtree(root, ignore_errors=True)
    if args.markdown:
        _write_markdown(args.markdown, rows)
    return 0


def _write_markdown(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """The table, with when, where and which library (instructions: the load is moot)."""
    import platform
    from datetime import datetime, timezone

    sys.path.insert(0, str(HERE))
    from _harness import library_state, markdown

    now = datetime.now(timezone.utc)
    head = f"{now:%Y-%m-%d %H:%M UTC} · Python {platform.python_version()} · valgrind callgrind"
    body = markdown("kind | instructions | ratio to bare | note", rows)
    text = "\n".join(
        ["## One exporter run, per destination", "", head, "", f"Library: {library_state()}", ""]
    )
    path.write_text(text + "\n" + "\n".join(body) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
