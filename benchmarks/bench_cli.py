"""What does telemetry cost a CLI's user? Ratios measured in one run, never absolute timings.

    python benchmarks/bench_cli.py            # 15 paired rounds, a few minutes
    python benchmarks/bench_cli.py --quick    # 5 rounds, a smoke run
    python benchmarks/bench_cli.py --markdown results.md --importtime

Each round starts ``reference_cli.py run`` once per case, in a shuffled order, and times the
whole process (``time.perf_counter`` around ``subprocess.run``). A case is a ``BENCH_MODE`` of
the reference CLI (see its docstring) and, for the modes that send, an endpoint:

* ``live``: an OTLP/HTTP receiver in this process that answers 200 to ``POST .../v1/traces``;
* ``blackhole``: a socket that listens but never accepts or answers;
* ``down`` (``--down``): a port nobody listens on.

The budgets checked (DESIGN.md section 6): disabled adds <= 1 % wall time; enabled costs
<= 3 ms beyond importing the OpenTelemetry SDK; exit time unchanged when the destination is
blackholed; nothing on stderr. The standard in-process SDK blocks exit for seconds when the
destination is blackholed, so it runs only a few rounds there (``--slow-runs``).

Between runs the benchmark waits for the detached exporter children to finish, so that they
do not pile up and steal CPU from the next run. It finds them by ``/proc/<pid>/cmdline``
(``otel_cli_telemetry.exporter``) and ``/proc/<pid>/environ`` (this run's temporary home),
and kills only those, and only when they outlive the exporter's deadline (Linux only).

Bytecode: the CLI runs with ``PYTHONPYCACHEPREFIX`` in the temporary directory, so every mode
loads cached bytecode after the warm-up round, as with a wheel installed by pip (and nothing
is written into the repository). ``--no-pyc`` keeps ``PYTHONDONTWRITEBYTECODE=1`` instead.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REFERENCE_CLI = HERE / "reference_cli.py"
LOOPBACK = "127.0.0.1"
ENV_PREFIX = "BENCHCLI"
EXPORTER_MODULE = b"otel_cli_telemetry.exporter"
#: Telemetry modes: they may leave a detached exporter child behind.
TELEMETRY_MODES = frozenset({"enabled", "enabled_file"})
#: The exporter's default deadline (10 s) plus its hard-deadline grace, plus a margin.
EXPORTER_WAIT_S = 13.0
#: The standard SDK may block for many seconds on a dead endpoint: cap it, and record the cap.
STANDARD_TIMEOUT_S = 40.0
RUN_TIMEOUT_S = 30.0
#: Variables of the caller's environment that would change what the CLI does.
_SCRUBBED_PREFIXES = ("OTEL_", f"{ENV_PREFIX}_", "BENCH_")
_SCRUBBED = frozenset(
    {"DO_NOT_TRACK", "TRACEPARENT", "TRACESTATE", "BAGGAGE", "PYTHONPROFILEIMPORTTIME"}
)

# Budgets from DESIGN.md section 6.
OWN_WORK_BUDGET_MS = 3.0
DISABLED_BUDGET_RATIO = 1.01


# --- endpoints ------------------------------------------------------------------------


def count_spans(body: bytes, content_type: str, encoding: str | None) -> int:
    """Spans in one OTLP/HTTP trace export; -1 if the body cannot be read."""
    try:
        if encoding == "gzip":
            body = gzip.decompress(body)
        if "json" in content_type:
            request = json.loads(body)
            return sum(
                len(scope.get("spans", []))
                for resource in request.get("resourceSpans", [])
                for scope in resource.get("scopeSpans", [])
            )
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        return sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
    except Exception:
        return -1


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: LiveReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type") or "application/x-protobuf"
        found = self.path.endswith("/v1/traces")
        if found:
            spans = count_spans(body, content_type, self.headers.get("Content-Encoding"))
            self.server.record(self.path.split("/")[1], spans)
        answer = b"{}" if "json" in content_type else b""
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the benchmark's output is its table."""


class LiveReceiver(ThreadingHTTPServer):
    """A minimal OTLP/HTTP traces receiver on 127.0.0.1: 200 to every export.

    Each case posts under its own path prefix (``/<case>/v1/traces``), so what every case
    delivered can be counted separately.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _ReceiverHandler)
        self.requests: dict[str, int] = {}
        self.spans: dict[str, int] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, name="otlp-receiver")
        self._thread.daemon = True
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def record(self, prefix: str, spans: int) -> None:
        with self._lock:
            self.requests[prefix] = self.requests.get(prefix, 0) + 1
            self.spans[prefix] = self.spans.get(prefix, 0) + max(spans, 0)

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class Blackhole:
    """A socket on 127.0.0.1 that listens but never accepts nor answers."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(1024)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._sock.close()


def closed_port_url() -> str:
    """A loopback URL nobody listens on (it was free a moment ago): 'collector down'."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return f"http://{LOOPBACK}:{sock.getsockname()[1]}"


# --- exporter children ------------------------------------------------------------------


def exporter_pids(home_root: Path) -> list[int]:
    """Live exporter children whose environment names a directory under ``home_root``."""
    marker = os.fsencode(str(home_root))
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if EXPORTER_MODULE not in (entry / "cmdline").read_bytes():
                    continue  # zombies have an empty cmdline: they do not count
                if marker not in (entry / "environ").read_bytes():
                    continue
            except OSError:
                continue  # gone meanwhile, or not ours to read
            pids.append(int(entry.name))
    return pids


@dataclass
class Settled:
    seen: set[int] = field(default_factory=set)
    killed: int = 0


def settle_exporters(home_root: Path, wait_s: float) -> Settled:
    """Wait until no exporter child of ours is left; kill those still there after ``wait_s``."""
    result = Settled()
    deadline = time.monotonic() + wait_s
    while True:
        pids = exporter_pids(home_root)
        result.seen.update(pids)
        if not pids:
            return result
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    for pid in exporter_pids(home_root):  # re-checked just before: only ours, only alive
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            result.killed += 1
    return result


# --- cases and runs ----------------------------------------------------------------------


def clean_environ() -> dict[str, str]:
    """The caller's environment without the variables that would change what the CLI does."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in _SCRUBBED and not k.startswith(_SCRUBBED_PREFIXES)
    }


@dataclass(frozen=True)
class Case:
    mode: str
    endpoint: str = "-"  # "-": the mode sends nothing anywhere; "file": local file sink
    slow: bool = False  # only in --slow-runs rounds

    @property
    def key(self) -> str:
        return self.mode if self.endpoint in ("-", "file") else f"{self.mode}-{self.endpoint}"


@dataclass
class Samples:
    """Everything measured for one case, by round (rounds pair the cases)."""

    wall_ms: dict[int, float] = field(default_factory=dict)
    cpu_ms: dict[int, float] = field(default_factory=dict)  # user + system time of the CLI
    probe_ms: dict[int, float] = field(default_factory=dict)
    stderr_bytes: int = 0
    stderr_sample: bytes = b""
    failures: int = 0
    timeouts: int = 0
    exporters: set[int] = field(default_factory=set)
    killed: int = 0


@dataclass
class Bench:
    python: str
    root: Path
    urls: dict[str, str]
    no_pyc: bool
    results: dict[Case, Samples] = field(default_factory=dict)

    def home(self, case: Case) -> Path:
        home = self.root / "homes" / case.key
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return home

    def env(self, case: Case) -> dict[str, str]:
        env = clean_environ()
        env["BENCH_MODE"] = case.mode
        env["BENCH_PROBE_FILE"] = str(self.root / "probe.json")
        env[f"{ENV_PREFIX}_TELEMETRY_HOME"] = str(self.home(case))
        if self.no_pyc:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.root / "pycache")
        if case.mode == "disabled":
            env["DO_NOT_TRACK"] = "1"
        if case.endpoint in self.urls:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"{self.urls[case.endpoint]}/{case.key}"
        return env

    def run(self, case: Case, round_no: int | None, extra_args: Sequence[str] = ()) -> None:
        """Run the CLI once; record it unless ``round_no`` is None (warm-up)."""
        probe = self.root / "probe.json"
        probe.unlink(missing_ok=True)
        argv = [self.python, *extra_args, str(REFERENCE_CLI), "run"]
        timeout = STANDARD_TIMEOUT_S if case.mode == "standard" else RUN_TIMEOUT_S
        timed_out = False
        cpu_before = _children_cpu_s()
        started = time.perf_counter()
        try:
            done = subprocess.run(
                argv,
                env=self.env(case),
                cwd=self.root,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            stderr, failed = done.stderr, done.returncode != 0
        except subprocess.TimeoutExpired as exc:
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            stderr, failed, timed_out = exc.stderr or b"", True, True
        cpu_ms = (_children_cpu_s() - cpu_before) * 1000.0
        settled = Settled()
        if case.mode in TELEMETRY_MODES:
            settled = settle_exporters(self.root, EXPORTER_WAIT_S)
        if round_no is None:
            return
        samples = self.results.setdefault(case, Samples())
        samples.wall_ms[round_no] = elapsed_ms
        samples.cpu_ms[round_no] = cpu_ms
        with contextlib.suppress(OSError, ValueError, KeyError):
            samples.probe_ms[round_no] = float(json.loads(probe.read_text())["telemetry_ms"])
        samples.stderr_bytes += len(stderr)
        samples.stderr_sample = samples.stderr_sample or stderr[:300]
        samples.failures += int(failed and not timed_out)
        samples.timeouts += int(timed_out)
        samples.exporters |= settled.seen
        samples.killed += settled.killed


def _children_cpu_s() -> float:
    """CPU seconds of the waited-for children so far (detached exporters never count)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_cases(with_down: bool) -> list[Case]:
    cases = [
        Case("bare"),
        Case("disabled"),
        Case("sdk_only"),
        Case("enabled_file", "file"),
        Case("enabled", "live"),
        Case("enabled", "blackhole"),
        Case("standard", "live"),
        Case("standard", "blackhole", slow=True),
    ]
    if with_down:
        cases += [Case("enabled", "down"), Case("standard", "down", slow=True)]
    return cases


def spread(count: int, total: int) -> set[int]:
    """``count`` round numbers spread evenly over ``range(total)``."""
    count = max(0, min(count, total))
    if count <= 1:
        return set(range(count))
    return {round(i * (total - 1) / (count - 1)) for i in range(count)}


# --- statistics ---------------------------------------------------------------------------


def median(values: dict[int, float]) -> float:
    return statistics.median(values.values()) if values else float("nan")


def quartiles(values: dict[int, float]) -> tuple[float, float]:
    data = sorted(values.values())
    if len(data) < 2:
        return (data[0], data[0]) if data else (float("nan"), float("nan"))
    q = statistics.quantiles(data, n=4, method="inclusive")
    return q[0], q[2]


def paired_ci(
    a: dict[int, float],
    b: dict[int, float],
    stat: Callable[[list[float], list[float]], float],
    *,
    resamples: int = 2000,
    seed: int = 1,
) -> tuple[float, float]:
    """95 % bootstrap interval of ``stat(a, b)``, resampling whole rounds (they are paired)."""
    rounds = sorted(a.keys() & b.keys())
    if len(rounds) < 3:
        return float("nan"), float("nan")
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        pick = rng.choices(rounds, k=len(rounds))
        values.append(stat([a[r] for r in pick], [b[r] for r in pick]))
    values.sort()
    return values[int(0.025 * resamples)], values[int(0.975 * resamples) - 1]


def ratio_of_medians(a: list[float], b: list[float]) -> float:
    return statistics.median(a) / statistics.median(b)


def diff_of_medians(a: list[float], b: list[float]) -> float:
    return statistics.median(a) - statistics.median(b)


# --- report ---------------------------------------------------------------------------------


def _fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"  # NaN check


def table(bench: Bench, cases: Sequence[Case], runs: int, slow_runs: int) -> list[str]:
    bare = bench.results[Case("bare")]
    lines = [
        "| mode | endpoint | runs | wall median ms | wall p25-p75 ms | wall ratio to bare "
        "| CPU median ms | CPU ratio to bare | telemetry code ms (in-process) | stderr bytes "
        "| exporters alive at CLI exit | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case in cases:
        s = bench.results.get(case)
        if s is None:
            continue
        low, high = quartiles(s.wall_ms)
        notes = []
        if case.slow:
            notes.append(f"only {min(slow_runs, runs)} runs (each can take ~10 s)")
        if s.timeouts:
            notes.append(f"{s.timeouts} hit the {STANDARD_TIMEOUT_S:.0f} s cap")
        if s.failures:
            notes.append(f"{s.failures} exit code != 0")
        if s.killed:
            notes.append(f"{s.killed} exporter(s) killed after {EXPORTER_WAIT_S:.0f} s")
        if s.stderr_sample:
            first = s.stderr_sample.decode(errors="replace").strip().splitlines()[0][:70]
            notes.append(f"stderr: `{first.replace('|', '/').replace('`', '')}`")
        probe = _fmt(median(s.probe_ms), 2) if s.probe_ms else "-"
        exporters = str(len(s.exporters)) if case.mode in TELEMETRY_MODES else "-"
        lines.append(
            f"| {case.mode} | {case.endpoint} | {len(s.wall_ms)} | {_fmt(median(s.wall_ms))} "
            f"| {_fmt(low)}-{_fmt(high)} | {median(s.wall_ms) / median(bare.wall_ms):.3f} "
            f"| {_fmt(median(s.cpu_ms))} | {median(s.cpu_ms) / median(bare.cpu_ms):.3f} "
            f"| {probe} | {s.stderr_bytes} | {exporters} | {'; '.join(notes)} |"
        )
    return lines


def verdict(point: float, low: float, high: float, budget: float) -> str:
    """Within or over budget only when the whole 95 % interval says so."""
    if high <= budget:
        return "within budget"
    if low > budget:
        return "**over budget**"
    side = "over" if point > budget else "within"
    return f"not resolved at this noise level (point estimate {side})"


def figure(
    label: str,
    a: dict[int, float],
    b: dict[int, float],
    *,
    ratio: bool,
    budget: float | None = None,
    unit: str = "ms",
) -> str:
    """One derived figure: a ratio or a difference of medians, its paired CI and verdict."""
    stat = ratio_of_medians if ratio else diff_of_medians
    if not a or not b:
        return f"- {label}: n/a"
    point = stat(list(a.values()), list(b.values()))
    low, high = paired_ci(a, b, stat)
    digits, suffix = (3, "") if ratio else (1, f" {unit}")
    text = (
        f"- {label}: **{point:.{digits}f}{suffix}** "
        f"(95 % CI {_fmt(low, digits)} … {_fmt(high, digits)})"
    )
    if budget is not None:
        text += f"; budget ≤ {budget:g}{suffix}: {verdict(point, low, high, budget)}"
    return text


def derived(bench: Bench, receiver: LiveReceiver) -> list[str]:
    empty = Samples()

    def get(mode: str, endpoint: str = "-") -> Samples:
        return bench.results.get(Case(mode, endpoint), empty)

    bare, disabled, sdk = get("bare"), get("disabled"), get("sdk_only")
    enabled, enabled_bh = get("enabled", "live"), get("enabled", "blackhole")
    own, ratio = OWN_WORK_BUDGET_MS, DISABLED_BUDGET_RATIO
    lines = [
        "Our own work beyond importing the SDK (enabled, live endpoint, minus sdk_only):",
        "",
        figure("wall time", enabled.wall_ms, sdk.wall_ms, ratio=False, budget=own),
        figure("CPU time", enabled.cpu_ms, sdk.cpu_ms, ratio=False, budget=own),
        figure("in-process probe", enabled.probe_ms, sdk.probe_ms, ratio=False, budget=own),
        figure(
            "wall time, local file sink (enabled_file - sdk_only)",
            get("enabled_file", "file").wall_ms,
            sdk.wall_ms,
            ratio=False,
        ),
        "",
        "Disabled (DO_NOT_TRACK=1) against bare:",
        "",
        figure("wall time ratio", disabled.wall_ms, bare.wall_ms, ratio=True, budget=ratio),
        figure("CPU time ratio", disabled.cpu_ms, bare.cpu_ms, ratio=True, budget=ratio),
    ]
    if disabled.probe_ms and bare.wall_ms:
        share = median(disabled.probe_ms) / median(bare.wall_ms)
        lines.append(
            f"- in-process probe: {median(disabled.probe_ms):.1f} ms inside telemetry code = "
            f"**{share * 100:.1f} %** of bare's median wall time (budget 1 %)"
        )
    lines += [
        "",
        "Exit time when the destination is dead:",
        "",
        figure("enabled, blackholed / live", enabled_bh.wall_ms, enabled.wall_ms, ratio=True),
    ]
    if Case("enabled", "down") in bench.results:
        down = get("enabled", "down").wall_ms
        lines.append(figure("enabled, down / live", down, enabled.wall_ms, ratio=True))
    std_live = get("standard", "live").wall_ms
    for endpoint in ("blackhole", "down"):
        dead = get("standard", endpoint).wall_ms
        if dead and std_live:
            lines.append(
                f"- standard SDK, {endpoint} / live: **{median(dead) / median(std_live):.1f}x** "
                f"({median(dead) / 1000:.1f} s vs {median(std_live) / 1000:.2f} s per command)"
            )
    telemetry_cases = [c for c in bench.results if c.mode in TELEMETRY_MODES]
    stderr_total = sum(bench.results[c].stderr_bytes for c in telemetry_cases)
    key = Case("enabled", "live").key
    disabled_files = sum(1 for _ in bench.home(Case("disabled")).rglob("*"))
    lines += [
        "",
        "Other checks:",
        "",
        f"- stderr bytes over all enabled runs: **{stderr_total}** (expected 0)",
        f"- files the disabled runs left in their telemetry home: {disabled_files} (expected 0)",
        f"- importing the SDK (context), median(sdk_only) - median(bare): "
        f"{median(sdk.wall_ms) - median(bare.wall_ms):.1f} ms wall, "
        f"{median(sdk.cpu_ms) - median(bare.cpu_ms):.1f} ms CPU",
        f"- spans the live receiver got from enabled runs: {receiver.spans.get(key, 0)} in "
        f"{receiver.requests.get(key, 0)} request(s), for {len(enabled.wall_ms)} measured "
        f"runs + warm-up (+1 with --importtime)",
    ]
    return lines


# --- -X importtime --------------------------------------------------------------------------


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    children: list[ImportNode] = field(default_factory=list)


def parse_importtime(stderr: str) -> list[ImportNode]:
    """The import tree of one ``python -X importtime`` run (children are listed first)."""
    pending: list[tuple[int, ImportNode]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
            node = ImportNode(name.strip(), int(self_us), int(cumulative_us))
        except ValueError:
            continue
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        while pending and pending[-1][0] == depth + 1:
            node.children.insert(0, pending.pop()[1])
        pending.append((depth, node))
    return [node for _, node in pending]


def _walk(nodes: Sequence[ImportNode]) -> Iterator[ImportNode]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


def extra_imports(
    tree: Sequence[ImportNode], baseline: set[str], *, min_ms: float = 0.3, depth: int = 3
) -> list[str]:
    """The imports missing from ``baseline``, as an indented tree.

    A module the baseline also imports is left out and its own new imports move up to
    its parent, so each figure is the self time of new modules only, summed over a subtree.
    """

    def new_children(nodes: Sequence[ImportNode]) -> Iterator[ImportNode]:
        for node in nodes:
            if node.name in baseline:
                yield from new_children(node.children)
            else:
                yield node

    def new_us(node: ImportNode) -> int:
        own = 0 if node.name in baseline else node.self_us
        return own + sum(new_us(child) for child in node.children)

    lines: list[str] = []

    def show(node: ImportNode, level: int) -> None:
        if new_us(node) / 1000 < min_ms or level >= depth:
            return
        lines.append(f"{'  ' * level}{new_us(node) / 1000:7.1f} ms  {node.name}")
        for child in sorted(new_children(node.children), key=new_us, reverse=True):
            show(child, level + 1)

    tops = sorted(new_children(tree), key=new_us, reverse=True)
    modules = sum(1 for node in _walk(tree) if node.name not in baseline)
    total = sum(new_us(node) for node in tops) / 1000
    lines.append(f"{total:7.1f} ms  self time of {modules} module(s) the baseline does not import")
    for node in tops:
        show(node, 0)
    return lines


def importtime_report(bench: Bench) -> list[str]:
    trees: dict[str, list[ImportNode]] = {}
    for case in (Case("bare"), Case("disabled"), Case("sdk_only"), Case("enabled", "live")):
        done = subprocess.run(
            [bench.python, "-X", "importtime", str(REFERENCE_CLI), "run"],
            env=bench.env(case),
            cwd=bench.root,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        settle_exporters(bench.root, EXPORTER_WAIT_S)
        trees[case.mode] = parse_importtime(done.stderr)

    def names(mode: str) -> set[str]:
        return {n.name for n in _walk(trees[mode])}

    otel_when_disabled = sorted(n for n in names("disabled") if n.startswith("opentelemetry"))
    out = [
        "",
        "### Imports beyond the baseline (`python -X importtime`, one run each)",
        "",
        f"OpenTelemetry modules imported when disabled: {len(otel_when_disabled)} "
        f"(expected 0){': ' + ', '.join(otel_when_disabled[:5]) if otel_when_disabled else ''}",
        "",
    ]
    for mode, baseline in (("disabled", "bare"), ("enabled", "sdk_only"), ("enabled", "bare")):
        out += [f"`{mode}` vs `{baseline}`:", "", "```"]
        out += extra_imports(trees[mode], names(baseline))
        out += ["```", ""]
    return out


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="measured rounds (default 15)")
    parser.add_argument("--quick", action="store_true", help="5 rounds, 1 slow run: a smoke run")
    parser.add_argument(
        "--slow-runs",
        type=int,
        default=None,
        help="rounds that include the standard SDK against a dead endpoint (default 3)",
    )
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded rounds first")
    parser.add_argument("--down", action="store_true", help="also a 'collector down' endpoint")
    parser.add_argument("--no-pyc", action="store_true", help="run with no bytecode cache")
    parser.add_argument("--importtime", action="store_true", help="add a -X importtime breakdown")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the CLI")
    parser.add_argument("--seed", type=int, default=20240601, help="shuffling seed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 5
        args.slow_runs = 1 if args.slow_runs is None else args.slow_runs
    if args.slow_runs is None:
        args.slow_runs = 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(bench: Bench, cases: Sequence[Case], args: argparse.Namespace) -> list[float]:
    """Warm up, then run the paired rounds; the 1-minute load average at each round."""
    rng = random.Random(args.seed)
    slow_rounds = spread(args.slow_runs, args.runs)
    loads: list[float] = []
    started = time.monotonic()
    for w in range(args.warmup):
        progress(f"warm-up {w + 1}/{args.warmup}")
        for case in cases:
            if not case.slow:
                bench.run(case, None)
    for round_no in range(args.runs):
        order = [c for c in cases if not c.slow or round_no in slow_rounds]
        rng.shuffle(order)
        loads.append(os.getloadavg()[0])
        progress(
            f"round {round_no + 1}/{args.runs} ({len(order)} cases, "
            f"{time.monotonic() - started:.0f} s so far, load average {loads[-1]:.1f})"
        )
        for case in order:
            bench.run(case, round_no)
    return loads


def header(args: argparse.Namespace, loads: Sequence[float], elapsed: float) -> list[str]:
    cpus = os.cpu_count() or 1
    lines = [
        "## otel_cli_telemetry: CLI wall time by telemetry mode",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} · Python "
        f"{platform.python_version()} · {platform.system()} {platform.machine()} · {cpus} CPUs "
        f"· {args.runs} paired rounds (+{args.warmup} warm-up), shuffled · bytecode "
        f"{'not cached (--no-pyc)' if args.no_pyc else 'cached'} · 1-min load average "
        f"{min(loads):.1f} to {max(loads):.1f} · {elapsed:.0f} s in all",
        "",
        "`python reference_cli.py run` timed as a whole process (wall: `perf_counter` around "
        "`subprocess.run`; CPU: the child's user + system time). Ratios are medians over the "
        "bare CLI's median; CIs bootstrap whole rounds. The in-process column is the time "
        "spent inside telemetry code (imports, setup, the command span, shutdown).",
        "",
    ]
    if max(loads) > cpus:  # the benchmark alone keeps about one CPU busy
        lines += [
            f"> **The machine was busy** (load average up to {max(loads):.1f} on {cpus} CPUs): "
            "wall-time figures are unreliable; trust the in-process column more.",
            "",
        ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cases = make_cases(args.down)
    root = Path(tempfile.mkdtemp(prefix="otel-cli-bench-"))
    started = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, root, True)
        cleanup.callback(settle_exporters, root, EXPORTER_WAIT_S)  # runs before the rmtree
        receiver = LiveReceiver()
        cleanup.callback(receiver.close)
        blackhole = Blackhole()
        cleanup.callback(blackhole.close)
        urls = {"live": receiver.url, "blackhole": blackhole.url, "down": closed_port_url()}
        bench = Bench(python=args.python, root=root, urls=urls, no_pyc=args.no_pyc)
        loads = measure(bench, cases, args)
        extra = importtime_report(bench) if args.importtime else []
        report = [
            *header(args, loads, time.monotonic() - started),
            *table(bench, cases, args.runs, args.slow_runs),
            "",
            "### Derived figures",
            "",
            *derived(bench, receiver),
            *extra,
        ]
    text = "\n".join(report) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.keep:
        progress(f"kept {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
