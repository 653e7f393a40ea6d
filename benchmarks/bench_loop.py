"""A CLI run in a loop: what its telemetry children cost, one exporter or one per command.

    python benchmarks/bench_loop.py              # 1000 runs per mode, a few minutes on 2 cores
    python benchmarks/bench_loop.py --quick      # 100 runs per mode: a smoke run
    python benchmarks/bench_loop.py --runs 500 --markdown loop.md

``loop_cli.py run`` (a small argparse CLI) is started N times in a row in each mode:

* ``bare``: no telemetry code;
* ``enabled``: this library, OTLP endpoint = a receiver in this process on 127.0.0.1 that
  answers 200 and counts spans; one coalesced exporter child per app and user drains the spool;
* ``per_command_child``: the anchors' design (azure-cli, next.js): after each command the CLI
  starts one detached child (``loop_child.py``: own session, stdio on /dev/null, not waited
  for) that imports httpx, the OpenTelemetry SDK and the OTLP exporter and sends that one span
  to the same receiver, then exits.

The runs go in blocks of ``--block`` consecutive runs of one mode (a loop is what is
measured), and the blocks of the three modes alternate in a shuffled order per round, so
drift in machine load hits every mode alike. After each block the benchmark waits (bounded)
for that block's children to finish, so they never steal CPU from another mode's block;
that wait is reported as the drain time and is not part of the wall time. Each block
starts with no child alive, so ``enabled`` starts at least one exporter per block.

Measured:

* wall time of every CLI run (``perf_counter`` around ``subprocess.run``), summed per mode,
  and its ratio to ``bare``;
* children started: ``exporter_runs`` from ``<home>/delivery.json`` (ours), distinct
  processes found by sampling /proc every ``--interval`` (10 ms), and, when this process can
  be a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), the detached children reaped with
  ``os.wait4``: they are reparented here when the CLI exits, so none can be missed;
* peak concurrent children (alive, not zombie) seen by the sampler (a lower bound: two
  children that overlap for less than one sampling interval may be seen apart);
* CPU seconds of the children: from the sampler, the last ``utime + stime`` seen in
  ``/proc/<pid>/stat`` (fields 14 and 15, clock ticks) before the process disappears, a lower
  bound (CPU used after the last sample is missed, and the ticks are 10 ms coarse); and exact,
  from ``os.wait4``'s ``rusage`` when subreaping works;
* spans the receiver got from each mode (must be N for both).

A process counts as a child of this benchmark only if ``/proc/<pid>/cmdline`` names
``otel_cli_telemetry.exporter`` or ``loop_child.py`` and ``/proc/<pid>/environ`` names this
run's temporary directory; only such processes are ever killed (when one outlives
``--settle-timeout``). Everything binds 127.0.0.1; the receiver is stopped and the temporary
directory removed at the end. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import json
import math
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench_cli import ENV_PREFIX, EXPORTER_MODULE, LiveReceiver, clean_environ

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LOOP_CLI = HERE / "loop_cli.py"
MODES = ("bare", "enabled", "per_command_child")
#: What identifies each mode's children in /proc/<pid>/cmdline.
CHILD_MARKERS = {
    "enabled": EXPORTER_MODULE,
    "per_command_child": b"/loop_child.py\x00",
}
CHILD_MODES = tuple(CHILD_MARKERS)
CLK_TCK = os.sysconf("SC_CLK_TCK")
RUN_TIMEOUT_S = 30.0
#: How long a block's children may take to finish after its last run before being killed.
SETTLE_TIMEOUT_S = 120.0
PR_SET_CHILD_SUBREAPER = 36


class Receiver(LiveReceiver):
    """The bench_cli receiver with a deeper listen backlog: a loop of per-command children
    connects in bursts, and the default (5) would make some of them retry their SYN."""

    request_queue_size = 256


# --- the children of the CLI ---------------------------------------------------------------


def read_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, start time, utime + stime) of a process, in clock ticks; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2 :].split()  # fields 3.. (the name may hold spaces)
    return rest[0].decode(), int(rest[19]), int(rest[11]) + int(rest[12])


def identify(pid: int, env_marker: bytes) -> str | None:
    """The mode whose child ``pid`` is, or None if it is not one of ours."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()  # empty for a zombie: it is never (re)identified
        kind = next((k for k, m in CHILD_MARKERS.items() if m in cmdline), None)
        if kind is None:
            return None
        with open(f"/proc/{pid}/environ", "rb") as f:
            return kind if env_marker in f.read() else None
    except OSError:
        return None  # gone meanwhile, or not ours to read


def our_live_children(env_marker: bytes) -> dict[int, str]:
    """pid -> mode of every live (not zombie) child of ours, by cmdline and environ."""
    found: dict[int, str] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                kind = identify(int(name), env_marker)
                stat = read_stat(int(name)) if kind else None
                if kind and stat and stat[0] != "Z":
                    found[int(name)] = kind
    return found


@dataclass
class Child:
    kind: str
    pid: int
    start_ticks: int
    first_seen: float
    ticks: int = 0  # utime + stime at the last sample
    seen: bool = True  # False: known only from wait4 (the sampler never caught it alive)
    exact_s: float | None = None  # user + system CPU from wait4's rusage


class ChildWatch:
    """Samples /proc every ``interval`` seconds in a thread: our children, their CPU ticks,
    and how many of each mode are alive at once."""

    def __init__(self, root: Path, interval: float) -> None:
        self.env_marker = os.fsencode(str(root))
        self.interval = interval
        self._lock = threading.Lock()
        self._live: dict[int, Child] = {}
        self.children: list[Child] = []
        self.peak: dict[str, int] = dict.fromkeys(CHILD_MODES, 0)
        self.gaps: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="child-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        """Forget everything seen so far (the warm-up). A warm-up child still listed (a
        zombie its new parent has not reaped yet) stays known, so it is never counted."""
        with self._lock:
            self.children = []
            self.peak = dict.fromkeys(CHILD_MODES, 0)
            self.gaps = []

    def _loop(self) -> None:
        last = None
        while not self._stop.is_set():
            started = time.monotonic()
            if last is not None:
                self.gaps.append(started - last)
            last = started
            self.scan()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def scan(self) -> None:
        # The whole scan holds the lock, so that ``reaped`` (after ``os.wait4`` in the main
        # thread) never interleaves with the reading of one pid: no child is counted twice.
        with self._lock:
            self._scan()

    def _scan(self) -> None:
        now = time.monotonic()
        alive = dict.fromkeys(CHILD_MODES, 0)
        present: set[int] = set()
        try:
            names = os.listdir("/proc")
        except OSError:
            return
        for name in names:
            if not name.isdigit():
                continue
            pid = int(name)
            child = self._live.get(pid)
            kind = child.kind if child else identify(pid, self.env_marker)
            if kind is None:
                continue
            stat = read_stat(pid)
            if stat is None:
                continue
            state, start_ticks, ticks = stat
            if child is None or child.start_ticks != start_ticks:
                if child is not None:  # the pid was reused: is the new process ours?
                    kind = identify(pid, self.env_marker)
                    if kind is None:
                        continue
                child = Child(kind, pid, start_ticks, now)
                self._live[pid] = child
                self.children.append(child)
            present.add(pid)
            child.ticks = max(child.ticks, ticks)  # a zombie keeps its final times
            if state != "Z":
                alive[kind] += 1
        for pid in [p for p in self._live if p not in present]:
            del self._live[pid]
        for kind, count in alive.items():
            self.peak[kind] = max(self.peak[kind], count)

    def reaped(self, pid: int, cpu_s: float, fallback_kind: str) -> None:
        """Record what ``os.wait4`` said of ``pid`` (it cannot have been reused before)."""
        with self._lock:
            child = self._live.pop(pid, None)
            if child is None:
                child = next(
                    (c for c in reversed(self.children) if c.pid == pid and c.exact_s is None),
                    None,
                )
            if child is None:  # never caught alive by the sampler
                child = Child(fallback_kind, pid, -1, time.monotonic(), seen=False)
                self.children.append(child)
            child.exact_s = cpu_s

    def summary(self, kind: str) -> dict[str, float]:
        with self._lock:
            mine = [c for c in self.children if c.kind == kind]
            return {
                "sampled": sum(1 for c in mine if c.seen),
                "reaped": sum(1 for c in mine if c.exact_s is not None),
                "unseen": sum(1 for c in mine if not c.seen),
                "cpu_sampled_s": sum(c.ticks for c in mine) / CLK_TCK,
                "cpu_exact_s": sum(c.exact_s or 0.0 for c in mine),
                "peak": self.peak[kind],
            }


def become_subreaper() -> bool:
    """Have the CLI's detached children reparented here when the CLI exits (Linux >= 3.4),
    so that ``os.wait4`` gives their exact CPU time."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


# --- machine load ---------------------------------------------------------------------------


def machine_cpu_s() -> tuple[float, float]:
    """Machine-wide busy and steal CPU seconds since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def own_cpu_s() -> float:
    """CPU seconds of this process (all threads) and of every child it has reaped."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


# --- the loop -------------------------------------------------------------------------------


@dataclass
class ModeStats:
    wall_s: list[float] = field(default_factory=list)
    cli_cpu_s: list[float] = field(default_factory=list)
    drain_s: list[float] = field(default_factory=list)
    blocks: int = 0
    failures: int = 0
    timeouts: int = 0
    stderr_bytes: int = 0
    stderr_sample: bytes = b""
    killed: int = 0
    block_wall_s: float = 0.0  # blocks and their drains
    machine_busy_s: float = 0.0
    steal_s: float = 0.0
    own_s: float = 0.0


@dataclass
class Loop:
    python: str
    root: Path
    receiver_url: str
    watch: ChildWatch
    subreaper: bool
    child_sender: str
    settle_timeout: float
    stats: dict[str, ModeStats] = field(default_factory=dict)

    def home(self, label: str) -> Path:
        home = self.root / "homes" / label
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return home

    def env(self, mode: str, label: str) -> dict[str, str]:
        env = clean_environ()
        env["BENCH_MODE"] = mode
        env["BENCH_LOOP_ROOT"] = str(self.root)  # a marker: the children inherit it
        env["BENCH_CHILD_SENDER"] = self.child_sender
        env[f"{ENV_PREFIX}_TELEMETRY_HOME"] = str(self.home(label))
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"{self.receiver_url}/{label}"
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode, as after pip install
        env["PYTHONPYCACHEPREFIX"] = str(self.root / "pycache")
        return env

    def run_once(self, mode: str, label: str, stats: ModeStats | None) -> None:
        env = self.env(mode, label)
        cpu_before = _children_cpu_s()
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [self.python, str(LOOP_CLI), "run"],
                env=env,
                cwd=self.root,
                capture_output=True,
                timeout=RUN_TIMEOUT_S,
                check=False,
            )
            stderr, failed, timed_out = done.stderr, done.returncode != 0, False
        except subprocess.TimeoutExpired as exc:
            stderr, failed, timed_out = exc.stderr or b"", True, True
        wall = time.perf_counter() - started
        cli_cpu = _children_cpu_s() - cpu_before  # before reaping any detached child
        self.reap(mode)
        if stats is None:
            return
        stats.wall_s.append(wall)
        stats.cli_cpu_s.append(cli_cpu)
        stats.failures += int(failed and not timed_out)
        stats.timeouts += int(timed_out)
        stats.stderr_bytes += len(stderr)
        stats.stderr_sample = stats.stderr_sample or stderr[:300]

    def reap(self, mode: str) -> bool:
        """Reap the detached children that have exited; True if some child is still there.

        Called only when no CLI process runs, so every child of this process is an orphan
        reparented here (a subreaper): never the CLI that ``subprocess.run`` waits for.
        """
        if not self.subreaper:
            return False
        while True:
            try:
                pid, _status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            self.watch.reaped(pid, usage.ru_utime + usage.ru_stime, mode)

    def settle(self, mode: str, timeout: float) -> tuple[float, int]:
        """Wait until no child of ours is left; kill ours still alive after ``timeout``.

        Returns the time it took and how many were killed.
        """
        started = time.monotonic()
        while True:
            remaining = self.reap(mode)
            if not remaining and not our_live_children(self.watch.env_marker):
                return time.monotonic() - started, 0
            if time.monotonic() - started >= timeout:
                break
            time.sleep(0.01)
        killed = kill_ours(self.watch.env_marker)
        deadline = time.monotonic() + 5.0
        while self.reap(mode) and time.monotonic() < deadline:
            time.sleep(0.01)
        return time.monotonic() - started, killed

    def block(self, mode: str, runs: int) -> None:
        stats = self.stats.setdefault(mode, ModeStats())
        busy0, steal0 = machine_cpu_s()
        own0, started = own_cpu_s(), time.monotonic()
        for _ in range(runs):
            self.run_once(mode, mode, stats)
        drain, killed = self.settle(mode, self.settle_timeout)
        busy1, steal1 = machine_cpu_s()
        stats.blocks += 1
        stats.drain_s.append(drain)
        stats.killed += killed
        stats.block_wall_s += time.monotonic() - started
        stats.machine_busy_s += busy1 - busy0
        stats.steal_s += steal1 - steal0
        stats.own_s += own_cpu_s() - own0


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kill_ours(env_marker: bytes) -> int:
    """SIGKILL every live child of ours, identified just before by cmdline and environ."""
    killed = 0
    for pid in our_live_children(env_marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def plan(runs: int, block: int, seed: int) -> list[tuple[str, int]]:
    """(mode, runs) blocks: rounds of one block per mode, in a shuffled order per round."""
    rng = random.Random(seed)
    blocks: list[tuple[str, int]] = []
    for round_no in range(math.ceil(runs / block)):
        size = min(block, runs - round_no * block)
        order = list(MODES)
        rng.shuffle(order)
        blocks += [(mode, size) for mode in order]
    return blocks


def exporter_runs(home: Path) -> int | None:
    try:
        return int(json.loads((home / "delivery.json").read_text())["exporter_runs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def spool_left(home: Path) -> int:
    return sum(1 for p in home.glob("spool*/*") if p.is_file())


# --- report ---------------------------------------------------------------------------------


def _f(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"  # NaN check


def quantile(values: Sequence[float], q: float) -> float:
    data = sorted(values)
    if not data:
        return float("nan")
    return data[min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))]


def library_state() -> str:
    """The commit and a digest of the package's files (another session may edit them)."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "otel_cli_telemetry").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode())
        with contextlib.suppress(OSError):  # removed meanwhile
            digest.update(path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "otel_cli_telemetry"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, dirty = "?", ""
    changes = f" + {len(dirty.splitlines())} uncommitted file(s)" if dirty else ""
    return f"{head or '?'}{changes}, package digest {digest.hexdigest()[:12]}"


def library_note(before: str, after: str) -> str:
    if before == after:
        return before
    if before.rsplit("digest ", 1)[-1] == after.rsplit("digest ", 1)[-1]:
        return f"{before} at the start; {after} at the end (package files unchanged)"
    return f"{before} at the start; **{after} at the end: the package changed during the run**"


def report(
    loop: Loop,
    receiver: Receiver,
    args: argparse.Namespace,
    loads: Sequence[float],
    elapsed: float,
    library: tuple[str, str],
) -> list[str]:
    cpus = os.cpu_count() or 1
    bare = loop.stats["bare"]
    bare_total = sum(bare.wall_s)
    counts = {kind: loop.watch.summary(kind) for kind in CHILD_MODES}
    ours_runs = exporter_runs(loop.home("enabled"))
    busy = sum(s.machine_busy_s for s in loop.stats.values())
    own = sum(s.own_s for s in loop.stats.values())
    steal = sum(s.steal_s for s in loop.stats.values())
    span_time = sum(s.block_wall_s for s in loop.stats.values())
    gaps = loop.watch.gaps
    lines = [
        "## otel_cli_telemetry: a CLI run in a loop, coalesced exporter vs one child per command",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} · Python "
        f"{platform.python_version()} · {platform.system()} {platform.machine()} · {cpus} CPUs "
        f"· {args.runs} runs per mode in blocks of {args.block} (+{args.warmup} warm-up runs "
        f"each) · 1-min load average {min(loads):.1f} to {max(loads):.1f} · other work on the "
        f"machine: {_f((busy - own) / span_time if span_time else float('nan'), 2)} CPUs busy "
        f"on average (steal {_f(steal / span_time if span_time else float('nan'), 2)}) · "
        f"{elapsed:.0f} s in all",
        "",
        f"Library under test: {library_note(*library)}",
        "",
        "`python loop_cli.py run` (argparse, trivial work) started again and again; the wall "
        "total is the sum of the CLI runs' wall times (the drain after each block is not in "
        "it). Children: our detached exporter (`enabled`), or one `loop_child.py` per command "
        f"(`per_command_child`, sender `{args.child_sender}`).",
        "",
        "| mode | runs | wall total s | ratio to bare | children started "
        "| peak concurrent children | child CPU s per 1000 commands (sampled, lower bound) "
        "| child CPU s per 1000 commands (wait4, exact) | spans received |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        s = loop.stats.get(mode)
        if s is None:
            continue
        n = len(s.wall_s)
        total = sum(s.wall_s)
        if mode in CHILD_MODES:
            c = counts[mode]
            started = int(c["reaped"]) if loop.subreaper else int(c["sampled"])
            per_k = 1000.0 / n if n else float("nan")
            exact = _f(c["cpu_exact_s"] * per_k, 2) if loop.subreaper else "n/a"
            children = (
                f"{started}"
                if mode != "enabled"
                else f"{started} (exporter_runs {ours_runs if ours_runs is not None else '?'})"
            )
            cells = [
                children,
                str(int(c["peak"])),
                _f(c["cpu_sampled_s"] * per_k, 2),
                exact,
                str(receiver.spans.get(mode, 0)),
            ]
        else:
            cells = ["-", "-", "-", "-", "-"]
        lines.append(
            f"| {mode} | {n} | {total:.2f} | {total / bare_total:.3f} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "### How the children were counted, and the runs one by one",
        "",
        "| mode | distinct pids sampled | reaped by wait4 | never seen by the sampler "
        "| killed after the settle timeout | drain after a block s (median / max) "
        "| run wall ms (median / p95 / max) | CLI CPU ms (median) | failures | stderr bytes "
        "| other work during the blocks, CPUs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        s = loop.stats.get(mode)
        if s is None:
            continue
        c = counts.get(mode)
        ms = [w * 1000 for w in s.wall_s]
        others = (s.machine_busy_s - s.own_s) / s.block_wall_s if s.block_wall_s else float("nan")
        fails = str(s.failures) + (f" (+{s.timeouts} timeouts)" if s.timeouts else "")
        lines.append(
            f"| {mode} | {int(c['sampled']) if c else '-'} "
            f"| {int(c['reaped']) if c and loop.subreaper else '-'} "
            f"| {int(c['unseen']) if c and loop.subreaper else '-'} | {s.killed if c else '-'} "
            f"| {_f(statistics.median(s.drain_s), 2)} / {_f(max(s.drain_s), 2)} "
            f"| {_f(statistics.median(ms))} / {_f(quantile(ms, 0.95))} / {_f(max(ms))} "
            f"| {_f(statistics.median(s.cli_cpu_s) * 1000)} | {fails} | {s.stderr_bytes} "
            f"| {_f(others, 2)} |"
        )
    lines += ["", "### Derived", ""]
    enabled, pcc = loop.stats.get("enabled"), loop.stats.get("per_command_child")
    if enabled and pcc:
        ce, cp = counts["enabled"], counts["per_command_child"]
        key = "cpu_exact_s" if loop.subreaper else "cpu_sampled_s"
        per_e = ce[key] / len(enabled.wall_s) * 1000
        per_p = cp[key] / len(pcc.wall_s) * 1000
        lines += [
            f"- child CPU per 1000 commands: per_command_child {per_p:.1f} s vs enabled "
            f"{per_e:.1f} s = **{per_p / per_e if per_e else float('nan'):.0f}x**",
            f"- wall total: per_command_child / enabled = "
            f"**{sum(pcc.wall_s) / sum(enabled.wall_s):.3f}**; extra over bare per command: "
            f"enabled {(sum(enabled.wall_s) - bare_total) / len(enabled.wall_s) * 1000:.1f} ms, "
            f"per_command_child {(sum(pcc.wall_s) - bare_total) / len(pcc.wall_s) * 1000:.1f} ms",
            f"- time for the last children to finish after a block (median): enabled "
            f"{statistics.median(enabled.drain_s):.2f} s, per_command_child "
            f"{statistics.median(pcc.drain_s):.2f} s",
        ]
    for mode in CHILD_MODES:
        s = loop.stats.get(mode)
        if s is None:
            continue
        got, n = receiver.spans.get(mode, 0), len(s.wall_s)
        verdict = "ok" if got == n else f"**MISMATCH: expected {n}**"
        lines.append(
            f"- spans received from {mode}: {got} in {receiver.requests.get(mode, 0)} "
            f"request(s): {verdict}"
        )
    lines += [
        f"- spool files left in the enabled home: {spool_left(loop.home('enabled'))} (expected 0)",
        f"- sampler: {len(gaps) + 1} scans of /proc, interval median "
        f"{_f(statistics.median(gaps) * 1000 if gaps else float('nan'))} ms, max "
        f"{_f(max(gaps) * 1000 if gaps else float('nan'))} ms (asked {args.interval * 1000:g} "
        "ms); child CPU from sampling is a lower bound: CPU used after a child's last sample "
        "is missed (with the subreaper an exited child stays a zombie until reaped, and a "
        "zombie's /proc/<pid>/stat keeps its final times, so little is missed here)",
        f"- exact accounting (PR_SET_CHILD_SUBREAPER + os.wait4): "
        f"{'on' if loop.subreaper else 'unavailable: the exact columns are n/a'}",
    ]
    return lines


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs per mode (default 1000)")
    parser.add_argument("--quick", action="store_true", help="100 runs per mode, blocks of 25")
    parser.add_argument("--block", type=int, default=None, help="runs per block (default 100)")
    parser.add_argument("--warmup", type=int, default=3, help="unrecorded runs per mode first")
    parser.add_argument(
        "--interval", type=float, default=0.01, help="/proc sampling interval, s (0.01)"
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=SETTLE_TIMEOUT_S,
        help=f"wait this long for a block's children, then kill them ({SETTLE_TIMEOUT_S:g} s)",
    )
    parser.add_argument(
        "--child-sender",
        choices=("httpx", "otlp-exporter"),
        default="httpx",
        help="how a per-command child sends: httpx + the OTLP encoder (default), or the "
        "SDK's OTLPSpanExporter",
    )
    parser.add_argument("--no-subreaper", action="store_true", help="sampling only, no wait4")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the CLI")
    parser.add_argument("--seed", type=int, default=20240601, help="block order seed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 100
        args.block = 25 if args.block is None else args.block
    if args.block is None:
        args.block = 100
    if args.runs < 1 or args.block < 1:
        parser.error("--runs and --block must be at least 1")
    if not Path("/proc/self/stat").exists():
        parser.error("this benchmark reads /proc: Linux only")
    return args


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    library_before = library_state()
    root = Path(tempfile.mkdtemp(prefix="otel-cli-bench-loop-"))
    started = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, root, True)
        receiver = Receiver()
        cleanup.callback(receiver.close)
        watch = ChildWatch(root, args.interval)
        watch.start()
        cleanup.callback(watch.stop)
        subreaper = False if args.no_subreaper else become_subreaper()
        loop = Loop(
            python=args.python,
            root=root,
            receiver_url=receiver.url,
            watch=watch,
            subreaper=subreaper,
            child_sender=args.child_sender,
            settle_timeout=args.settle_timeout,
        )
        # Runs first at exit (before the receiver closes): nothing of ours survives.
        cleanup.callback(loop.settle, "cleanup", 15.0)

        progress(f"warm-up: {args.warmup} run(s) per mode")
        for mode in MODES:
            for _ in range(args.warmup):
                loop.run_once(mode, f"warmup-{mode}", None)
            loop.settle(mode, args.settle_timeout)
        watch.reset()

        blocks = plan(args.runs, args.block, args.seed)
        loads: list[float] = []
        for i, (mode, size) in enumerate(blocks):
            loads.append(os.getloadavg()[0])
            progress(
                f"block {i + 1}/{len(blocks)}: {mode} x {size} "
                f"({time.monotonic() - started:.0f} s so far, load average {loads[-1]:.1f})"
            )
            loop.block(mode, size)
        lines = report(
            loop,
            receiver,
            args,
            loads,
            time.monotonic() - started,
            (library_before, library_state()),
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.keep:
        progress(f"kept {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
