"""A CLI run in a loop: N commands of lean_cli.py per mode, bare vs ours vs the seeds' way.

    python benchmarks/bench_loop.py --quick --markdown benchmarks/RESULTS-loop.md  # 100 each
    python benchmarks/bench_loop.py                                                # 1000 each

``ours`` is BENCH_MODE=enabled_otlp, ``seeds`` one detached child per command; both send to a
receiver on 127.0.0.1. Commands run back to back in blocks of ``--block``, one block per mode
per round, shuffled; after each block the children are waited for (the drain, not in the total).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import _harness as h
from _modes import ENV_PREFIX

MODES = {"bare": "bare", "ours": "enabled_otlp", "seeds": "seeds"}
KINDS = {"ours": "exporter", "seeds": "seeds"}
HEADERS = (
    "mode | commands | wall total s | ratio to bare | CLI CPU s "
    "| children started (reaped / seen in /proc) | max alive at once | children CPU s "
    "| spans received/sent | drain after a block s (median / max) | stderr bytes "
    "| failures + children killed"
)


class Sampler(threading.Thread):
    """Samples /proc every 10 ms: the children seen, and the most alive at once, per kind."""

    def __init__(self, finder: h.Finder) -> None:
        super().__init__(daemon=True)
        self.finder, self.stop = finder, threading.Event()
        self.seen: dict[str, set[int]] = {kind: set() for kind in KINDS.values()}
        self.peak = dict.fromkeys(KINDS.values(), 0)

    def run(self) -> None:
        while not self.stop.wait(0.01):
            alive = self.finder.scan()
            for kind in self.peak:
                pids = {pid for pid, k in alive.items() if k == kind}
                self.seen[kind] |= pids
                self.peak[kind] = max(self.peak[kind], len(pids))


def run_block(s: h.Session, env: dict[str, str], size: int, samples: h.Samples) -> None:
    """``size`` commands back to back (reaping the children that are done), then the drain."""
    for _ in range(size):
        done = h.run_process([sys.executable, str(h.HERE / "lean_cli.py"), "run"], env, s.root)
        h.reap(samples.children)
        samples.record(done, len(samples.wall))
    started = time.monotonic()
    h.settle(s.finder, samples.children)
    samples.drain_s.append(time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="commands per mode (default 1000)")
    parser.add_argument("--quick", action="store_true", help="100 commands per mode, blocks of 25")
    parser.add_argument("--block", type=int, help="commands per block (default 100, quick 25)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--seed", type=int, default=1, help="block order seed")
    args = parser.parse_args(argv)
    runs = args.runs or (100 if args.quick else 1000)
    block = args.block or (25 if args.quick else 100)
    with h.Session() as s:
        envs = {}
        for name, mode in [*MODES.items(), *((f"warm-{n}", m) for n, m in MODES.items())]:
            envs[name] = {**h.base_env(s.root), "BENCH_MODE": mode}
            envs[name][f"{ENV_PREFIX}_TELEMETRY_HOME"] = str(s.root / "homes" / name)
            envs[name]["OTEL_EXPORTER_OTLP_ENDPOINT"] = s.receiver.url(name)
        s.progress("warm-up: 3 commands per mode")
        for name in MODES:
            run_block(s, envs[f"warm-{name}"], 3, h.Samples())
        sampler, stats = Sampler(s.finder), {name: h.Samples() for name in MODES}
        sampler.start()
        rng = random.Random(args.seed)
        for round_no in range(math.ceil(runs / block)):
            size = min(block, runs - round_no * block)
            for name in rng.sample(list(MODES), len(MODES)):
                s.progress(f"round {round_no + 1}: {name} x {size}")
                run_block(s, envs[name], size, stats[name])
        deadline = time.monotonic() + 30  # every span delivered, at most 30 s later
        received = s.receiver.received
        while time.monotonic() < deadline and min(received.get(n, 0) for n in KINDS) < runs:
            time.sleep(0.1)
        sampler.stop.set()
        sampler.join()
        rows, bare_total = [], sum(stats["bare"].wall.values())
        for name, m in stats.items():
            kind, total, n = KINDS.get(name), sum(m.wall.values()), len(m.wall)
            children = ["-"] * 4
            if kind:
                cpu = f"{m.children.cpu_s:.2f}" if s.subreaper else "n/a"
                seen, got = len(sampler.seen[kind]), received.get(name, 0)
                children = [f"{m.children.started} / {seen}", sampler.peak[kind], cpu, f"{got}/{n}"]
            cells = [f"`{name}` ({MODES[name]})", n, f"{total / 1e3:.2f}"]
            cells += [
                f"**{total / bare_total:.3f}**",
                f"{sum(m.cpu.values()) / 1e3:.2f}",
                *children,
            ]
            cells += [f"{h.median(m.drain_s):.2f} / {max(m.drain_s):.2f}", m.stderr_bytes]
            rows.append([*cells, len(m.failed) + m.children.killed])
        title = "A CLI run in a loop: one coalesced exporter vs one child per command"
        detail = f"{runs} commands per mode in blocks of {block} (+3 warm-up each), shuffled"
        return s.report(title, detail, h.markdown(HEADERS, rows), args.markdown)


if __name__ == "__main__":
    sys.exit(main())
