"""What telemetry costs a CLI's user: whole processes, paired and shuffled, ratios to bare.

    python benchmarks/bench_cli.py --cli both --rounds 10 --markdown benchmarks/RESULTS-cli.md
    python benchmarks/bench_cli.py --quick --cli lean        # 5 rounds: a smoke run

A case is a (CLI, BENCH_MODE) pair (see _modes.py); ``--blackhole`` adds enabled_otlp against
a socket that never answers. One warm-up round is not counted; then each round runs every
case once in a shuffled order, and after each run waits for (and reaps) that run's detached
children. Last, ``-X importtime`` runs tell what each mode imports beyond bare.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path

import _harness as h
from _modes import ENV_PREFIX, MODES

CLIS = {"lean": h.HERE / "lean_cli.py", "typer": h.HERE / "typer_cli.py"}
SPANS_PER_RUN = {"enabled_otlp": 1, "enabled_child_span": 2, "seeds": 1, "standard": 1}
#: DESIGN.md section 6, ratio to bare: (lean, typer).
BUDGETS = {"disabled": (1.02, 1.01), "enabled_file": (1.25, 1.03), "enabled_otlp": (1.25, 1.03)}
HEADERS = (
    "mode | rounds | wall ms (median) | ratio to bare [95% CI] | CLI CPU ms (median) "
    "| children per run | children CPU ms per run | stderr bytes | spans received/sent "
    "| modules added | their import ms | notes"
)
EXPLAIN = (
    "Wall: `perf_counter` around the whole process; CPU: its user + system time (`os.wait4`); "
    "children: the detached processes it left (exporter or seeds sender), reaped as their "
    "subreaper, exact CPU. Ratio: median of per-round ratios to `bare`, 95 % bootstrap CI. "
    "Modules added: those `-X importtime` lists and bare does not import, their summed self "
    "time (median of {} runs)."
)


class Bench:
    def __init__(self, s: h.Session) -> None:
        self.s, self.results = s, dict[tuple[str, str], h.Samples]()

    def env(self, cli: str, case: str) -> dict[str, str]:
        mode, _, endpoint = case.partition("@")
        env = {**h.base_env(self.s.root), "BENCH_MODE": mode}
        env[f"{ENV_PREFIX}_TELEMETRY_HOME"] = str(self.s.root / "homes" / f"{cli}-{case}")
        if mode == "disabled":
            env["DO_NOT_TRACK"] = "1"
        if mode in SPANS_PER_RUN:
            port = self.s.blackhole.getsockname()[1] if endpoint == "blackhole" else None
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.s.receiver.url(f"{cli}-{case}", port)
        return env

    def run(self, cli: str, case: str, key: int | None, flags: Sequence[str] = ()) -> bytes:
        samples = self.results.setdefault((cli, case), h.Samples())
        argv = [sys.executable, *flags, str(CLIS[cli]), "run"]
        done = h.run_process(argv, self.env(cli, case), self.s.root)
        h.settle(self.s.finder, samples.children if key is not None else h.Settled())
        samples.record(done, key)
        return done.stderr

    def received(self, cli: str, case: str) -> str:
        mode, launched = case.partition("@")[0], self.results[(cli, case)].launched
        if case.endswith("@blackhole"):
            return "- (blackholed)"
        if mode == "enabled_file":  # the local file sink: OTLP JSON lines
            files = (self.s.root / "homes" / f"{cli}-{case}").rglob("traces.jsonl*")
            lines = [line for p in files for line in p.read_bytes().splitlines()]
            return f"{sum(h.count_items('', line, 'json') for line in lines)}/{launched}"
        got = self.s.receiver.received.get(f"{cli}-{case}", 0)
        return f"{got}/{launched * SPANS_PER_RUN[mode]}" if mode in SPANS_PER_RUN else "-"

    def report(self, cli: str, cases: Sequence[str]) -> list[str]:
        res = {case: self.results[(cli, case)] for case in cases}
        ratio = {case: h.ratio_ci(s.wall, res["bare"].wall) for case, s in res.items()}
        rows = []
        for case, s in res.items():
            n, (point, low, high), added = len(s.wall), ratio[case], s.added
            notes = f"{len(s.failed)} failed: `{s.failed[0]}`" if s.failed else ""
            notes += f" {s.children.killed} killed after 15 s" if s.children.killed else ""
            rows.append(
                [f"`{case}`", n, f"{h.median(s.wall.values()):.1f}"]
                + [f"**{point:.3f}** [{low:.3f}, {high:.3f}]", f"{h.median(s.cpu.values()):.1f}"]
                + [f"{s.children.started / n:.2f}", f"{s.children.cpu_s * 1e3 / n:.1f}"]
                + [s.stderr_bytes, self.received(cli, case)]
                + ([added.count, f"{h.median(added.self_ms):.1f}"] if case != "bare" else ["-"] * 2)
                + [notes.replace("|", "/").replace("\n", " ")]
            )
        lines = [f"### `{cli}` CLI", "", *h.markdown(HEADERS, rows), "", "Budgets (DESIGN.md §6):"]
        for mode, budgets in BUDGETS.items():
            budget, (point, low, high) = budgets[cli != "lean"], ratio[mode]
            lines.append(f"- `{mode}` ≤ {budget}: {point:.3f} → {h.verdict(low, high, budget)}")
        for ours, theirs in (("enabled_otlp", "seeds"), ("enabled_child_span", "standard")):
            point, low, high = h.ratio_ci(res[ours].wall, res[theirs].wall)
            verdict = h.verdict(low, high, 1.0)
            lines.append(
                f"- `{ours}` / `{theirs}` ≤ 1: {point:.3f} [{low:.3f}, {high:.3f}] → {verdict}"
            )
        lines += ["", "Costliest modules added over bare (self ms, last importtime run):"]
        for case, s in list(res.items())[1:]:
            top = ", ".join(f"{m} {ms:.1f}" for m, ms in s.added.top) or "none"
            lines.append(f"- `{case}`: {top}")
        return [*lines, ""]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="measured rounds (default 15)")
    parser.add_argument("--quick", action="store_true", help="5 rounds unless --rounds")
    parser.add_argument("--cli", choices=("lean", "typer", "both"), default="both")
    parser.add_argument("--blackhole", action="store_true", help="add enabled_otlp@blackhole")
    parser.add_argument("--importtime-runs", type=int, default=3, help="per case (3)")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--seed", type=int, default=1, help="shuffling seed")
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 15)
    clis = list(CLIS) if args.cli == "both" else [args.cli]
    cases = [*MODES, *(["enabled_otlp@blackhole"] if args.blackhole else [])]
    pairs = [(cli, case) for cli in clis for case in cases]
    with h.Session() as session:
        bench, rng = Bench(session), random.Random(args.seed)
        for key in [None, *range(rounds)]:
            session.progress("round " + ("warm-up" if key is None else f"{key + 1}/{rounds}"))
            for cli, case in rng.sample(pairs, len(pairs)):
                bench.run(cli, case, key)
        session.progress("importtime runs")
        for _ in range(args.importtime_runs):
            for cli in clis:
                trees = {
                    c: h.importtime(bench.run(cli, c, None, ["-X", "importtime"])) for c in cases
                }
                for case in cases:
                    bench.results[(cli, case)].added.add(trees[case], trees["bare"])
        body = [EXPLAIN.format(args.importtime_runs), ""]
        for cli in clis:
            body += bench.report(cli, cases)
        detail = f"{rounds} paired rounds (+1 warm-up), shuffled"
        return session.report("CLI cost of telemetry, whole processes", detail, body, args.markdown)


if __name__ == "__main__":
    sys.exit(main())
