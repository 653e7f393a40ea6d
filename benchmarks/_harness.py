"""What bench_cli.py and bench_loop.py share: whole-process timing, the detached children of a
run (found in /proc, reaped as their subreaper), a loopback OTLP receiver and a blackhole,
importtime sums, paired statistics, markdown. Linux only (/proc, prctl).
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _modes import ENV_PREFIX, SEEDS_MARKER

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
HOME_ENV = b"OTEL_CLI_TELEMETRY_HOME_DIR="
_SCRUBBED = {"DO_NOT_TRACK", "TRACEPARENT", "TRACESTATE", "BAGGAGE", "PYTHONDONTWRITEBYTECODE"}
_SCRUBBED_PREFIXES = ("OTEL_", f"{ENV_PREFIX}_", "BENCH_", "PYTHONPROFILE")


def base_env(root: Path) -> dict[str, str]:
    """The caller's environment minus what would change the CLI; bytecode cached under root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env = {k: v for k, v in env.items() if k not in _SCRUBBED}
    return {**env, "PYTHONPYCACHEPREFIX": str(root / "pycache")}


@dataclass
class Run:
    wall_ms: float
    cpu_ms: float  # user + system of the CLI process, from os.wait4
    code: int
    stderr: bytes


def run_process(argv: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> Run:
    """Start, wait for (os.wait4) and time one whole process; stdout discarded, stderr kept."""
    with open(cwd / "stderr.out", "w+b") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        killer = threading.Timer(timeout, os.kill, (proc.pid, signal.SIGKILL))
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Run(wall * 1e3, cpu * 1e3, proc.returncode, err.read())


# --- the detached children of a run ---------------------------------------------------------


def become_subreaper() -> bool:
    """Have orphaned descendants (the detached children) reparented here, so that os.wait4
    gives their exact CPU time (Linux PR_SET_CHILD_SUBREAPER)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


class Finder:
    """Live processes of this run: ``exporter`` (environ has OTEL_CLI_TELEMETRY_HOME_DIR under
    root, or cmdline runs ``otel_cli_telemetry...`` with root in environ) or ``seeds``.

    As a subreaper this process keeps the detached children in its tree, so only its
    descendants are looked at (/proc/<pid>/task/<tid>/children); otherwise all of /proc.
    """

    def __init__(self, root: Path, subreaper: bool) -> None:
        self.root, me = os.fsencode(str(root)), os.getpid()
        self.tree = subreaper and os.path.exists(f"/proc/{me}/task/{me}/children")

    def kind(self, pid: int) -> str | None:
        environ = _read(f"/proc/{pid}/environ")  # empty for zombies
        if self.root not in environ:
            return None
        args = _read(f"/proc/{pid}/cmdline").split(b"\0")
        if HOME_ENV + self.root in environ or any(
            a.startswith(b"otel_cli_telemetry") for a in args
        ):
            return "exporter"
        return "seeds" if any(SEEDS_MARKER.encode() in a for a in args) else None

    def candidates(self) -> list[int]:
        if not self.tree:
            return [int(name) for name in os.listdir("/proc") if name.isdigit()]
        found, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            with contextlib.suppress(OSError):
                for tid in os.listdir(f"/proc/{pid}/task"):
                    children = [int(c) for c in _read(f"/proc/{pid}/task/{tid}/children").split()]
                    found += children
                    todo += children
        return found

    def scan(self) -> dict[int, str]:
        return {pid: kind for pid in self.candidates() if (kind := self.kind(pid))}


@dataclass
class Settled:
    started: int = 0  # children reaped (exact, as their subreaper)
    cpu_s: float = 0.0  # their user + system time
    killed: int = 0


def reap(into: Settled) -> bool:
    """Reap exited orphans; True if some child is left. Call only while no CLI runs: then
    every child of this process is a detached child of a finished run."""
    try:
        while True:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                return True
            into.started += 1
            into.cpu_s += usage.ru_utime + usage.ru_stime
    except ChildProcessError:
        return False


def settle(finder: Finder, into: Settled, max_age_s: float = 15.0) -> None:
    """Wait until no child of this run is left; kill only ours older than max_age_s."""
    while True:
        pending = reap(into)  # an exiting child leaves /proc's view before it can be reaped
        alive = finder.scan()
        if not alive and not pending:
            return
        uptime = float(_read("/proc/uptime").split()[0])
        for pid in alive:
            stat = _read(f"/proc/{pid}/stat")
            start = int(stat[stat.rindex(b")") + 2 :].split()[19]) if stat else 0
            if stat and uptime - start / os.sysconf("SC_CLK_TCK") > max_age_s and finder.kind(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    into.killed += 1
        time.sleep(0.01)


# --- endpoints --------------------------------------------------------------------------------


def count_items(path: str, body: bytes, content_type: str) -> int:
    """Spans in one OTLP/HTTP export (protobuf or JSON), or 1 for a seeds event."""
    if path.endswith("/v1/events"):
        return 1
    try:
        if "json" in content_type:
            request = json.loads(body)
            scopes = [s for r in request.get("resourceSpans", []) for s in r.get("scopeSpans", [])]
            return sum(len(scope.get("spans", [])) for scope in scopes)
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        message = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        return sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
    except Exception:
        return 0


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        content_type = self.headers.get("Content-Type") or "application/x-protobuf"
        items, label = count_items(self.path, body, content_type), self.path.split("/")[1]
        with self.server.lock:
            self.server.received[label] = self.server.received.get(label, 0) + items
        answer = b"{}" if "json" in content_type else b""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


class Receiver(ThreadingHTTPServer):
    """OTLP/HTTP receiver on 127.0.0.1 answering 200; counts items per ``/<label>/`` prefix."""

    daemon_threads = True
    request_queue_size = 256  # a loop of per-command children connects in bursts

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.received: dict[str, int] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, label: str, port: int | None = None) -> str:
        return f"http://{LOOPBACK}:{port or self.server_address[1]}/{label}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class Session:
    """A temporary root, the endpoints, progress and the report; at the end no child of ours
    is left and the root is removed."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="otel-cli-bench-"))
        self.subreaper, self.receiver = become_subreaper(), Receiver()
        self.blackhole = socket.create_server((LOOPBACK, 0), backlog=1024)  # never answers
        self.finder = Finder(self.root, self.subreaper)
        self.library, self.started, self.loads = library_state(), time.monotonic(), [0.0]

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        settle(self.finder, Settled())
        self.receiver.close()
        self.blackhole.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def progress(self, message: str) -> None:
        self.loads.append(os.getloadavg()[0])
        message += f" ({time.monotonic() - self.started:.0f} s, load {self.loads[-1]:.1f})"
        print(message, file=sys.stderr, flush=True)

    def report(self, title: str, detail: str, body: list[str], path: Path | None) -> int:
        """Print the report with its header (and write it to ``path``)."""
        end, now, loads = library_state(), datetime.now(timezone.utc), self.loads[1:] or [0.0]
        changed = "" if end == self.library else f"; **changed during the run: {end}**"
        machine = f"Python {platform.python_version()} · {platform.platform(terse=True)}"
        load = f"{os.cpu_count()} CPUs, 1-min load {min(loads):.1f} to {max(loads):.1f}"
        elapsed = f"{time.monotonic() - self.started:.0f} s"
        head = f"{now:%Y-%m-%d %H:%M UTC} · {machine} · {load} · {detail} · {elapsed}"
        output = "\n".join([f"## {title}", "", head, "", f"Library: {self.library}{changed}", ""])
        output += "\n" + "\n".join(body) + "\n"
        print(output)
        if path:
            path.write_text(output, encoding="utf-8")
        return 0


# --- imports, statistics, report --------------------------------------------------------------


def importtime(stderr: bytes) -> dict[str, int]:
    """Module -> self time in µs, from ``python -X importtime`` output."""
    modules = {}
    for line in stderr.decode(errors="replace").splitlines():
        parts = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[0].strip().isdigit():
            modules[parts[2].strip()] = int(parts[0])
    return modules


@dataclass
class Added:
    """Modules a mode imports and bare does not: summed self times (per run), count, top."""

    self_ms: list[float] = field(default_factory=list)
    count: int = 0
    top: list[tuple[str, float]] = field(default_factory=list)

    def add(self, mode: dict[str, int], bare: dict[str, int]) -> None:
        new = {name: us / 1e3 for name, us in mode.items() if name not in bare}
        self.self_ms.append(sum(new.values()))
        self.count = len(new)
        self.top = sorted(new.items(), key=lambda kv: -kv[1])[:5]


@dataclass
class Samples:
    """What the runs of one case measured; ``key`` None: a run that is not counted."""

    wall: dict[int, float] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)
    children: Settled = field(default_factory=Settled)
    stderr_bytes: int = 0
    failed: list[str] = field(default_factory=list)
    launched: int = 0  # uncounted runs too
    drain_s: list[float] = field(default_factory=list)
    added: Added = field(default_factory=Added)

    def record(self, done: Run, key: int | None) -> None:
        self.launched += 1
        if done.code:
            self.failed.append(done.stderr.decode(errors="replace").strip()[-100:])
        if key is not None:
            self.wall[key], self.cpu[key] = done.wall_ms, done.cpu_ms
            self.stderr_bytes += len(done.stderr)


def median(values: Iterable[float]) -> float:
    data = list(values)
    return statistics.median(data) if data else float("nan")


def ratio_ci(num: dict[Any, float], den: dict[Any, float]) -> tuple[float, float, float]:
    """Median of the per-round ratios num/den, and its 95 % bootstrap interval."""
    ratios = [num[r] / den[r] for r in num.keys() & den.keys() if den[r]]
    if not ratios:
        return (float("nan"),) * 3
    rng = random.Random(1)
    boot = sorted(median(rng.choices(ratios, k=len(ratios))) for _ in range(2000))
    return median(ratios), boot[50], boot[1949]


def verdict(low: float, high: float, budget: float) -> str:
    """Within or over only when the whole interval says so."""
    return "within" if high <= budget else "**over**" if low > budget else "unresolved"


def markdown(headers: str, rows: Iterable[Sequence[object]]) -> list[str]:
    """A table; ``headers`` separated by ``|``."""
    lines = [f"| {headers} |", "|" + "---|" * (headers.count("|") + 1)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def library_state() -> str:
    """HEAD, uncommitted package files and a digest of the package (others edit it)."""
    package = HERE.parent / "otel_cli_telemetry"
    digest = hashlib.sha256(b"".join(_read(str(p)) for p in sorted(package.rglob("*.py"))))

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True).stdout

    dirty = len(git("status", "--porcelain", "--", str(package)).splitlines())
    head = git("rev-parse", "--short", "HEAD").strip()
    return f"{head} + {dirty} uncommitted package file(s), digest {digest.hexdigest()[:10]}"
