"""Instructions of the CLI process per mode, counted by valgrind (deterministic: the same
figure however loaded the machine is), as ratios to ``bare`` of the same CLI.

    python benchmarks/bench_instructions.py --markdown benchmarks/RESULTS-instructions.md
    python benchmarks/bench_instructions.py --cli lean              # the lean CLI only

Each case: one warm-up run without valgrind (bytecode cached, state dir in its steady
state), then ``--runs`` runs of ``valgrind --tool=callgrind --callgrind-out-file=/dev/null
--trace-children=no`` ("Collected : N"; the median is kept). ``PYTHONHASHSEED=0``. Detached
children (our exporter, the seeds' sender) are not counted here: ``bench_background.py``
counts what the whole machine pays.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import _harness as h
from _modes import ENV_PREFIX

#: (budget off, budget on) per CLI: DESIGN.md §6.
BUDGETS = {"lean": (1.02, 1.15), "click": (1.01, 1.05), "typer-app": (1.01, 1.05),
           "argparse-app": (1.01, 1.05), "typer": (1.005, 1.02)}  # fmt: skip
COLLECTED = re.compile(rb"Collected : (\d+)")


@dataclass
class Case:
    cli: str
    label: str
    mode: str
    extra: dict[str, str] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)

    @property
    def off(self) -> bool:
        return "DO_NOT_TRACK" in self.extra


def cases(receiver: h.Receiver) -> list[Case]:
    otlp = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url("otlp")}
    off = {"DO_NOT_TRACK": "1"}
    dd = {"BENCH_DESTINATION": "datadog", "BENCH_INTAKE_URL": receiver.url("dd")}
    ph = {"BENCH_DESTINATION": "posthog", "BENCH_INTAKE_URL": receiver.url("ph")}
    found = [
        Case("lean", "bare", "bare"),
        Case("lean", "off (`DO_NOT_TRACK=1`)", "disabled", off),
        Case("lean", "default sink (local file)", "enabled_file"),
        Case("lean", "OTLP (live receiver)", "enabled_otlp", otlp),
        Case("lean", "`Datadog(...)` off", "disabled", {**dd, **off}),
        Case("lean", "`Datadog(...)`", "enabled_file", dd),
        Case("lean", "`PostHog(...)` off", "disabled", {**ph, **off}),
        Case("lean", "`PostHog(...)`", "enabled_file", ph),
        Case("lean", "one child span (SDK path)", "enabled_child_span", otlp),
        Case("lean", "the seeds' stdlib way", "seeds", otlp),
        Case("lean", "standard in-process SDK", "standard", otlp),
    ]
    for framework in ("click", "typer", "argparse"):
        env = {"BENCH_FRAMEWORK": framework}
        name = {"click": "click", "typer": "typer-app", "argparse": "argparse-app"}[framework]
        how = "`instrument` + `track`" if framework == "argparse" else "`consent_*` + `instrument`"
        found += [
            Case(name, "bare", "bare", env),
            Case(name, "off (`DO_NOT_TRACK=1`)", "disabled", {**env, **off}),
            Case(name, f"{how}, default sink", "enabled_file", env),
        ]
    found += [
        Case("typer", "bare", "bare"),
        Case("typer", "off (`DO_NOT_TRACK=1`)", "disabled", off),
        Case("typer", "`telemetry.command`, default sink", "enabled_file"),
        Case("typer", "`telemetry.command`, OTLP", "enabled_otlp", otlp),
    ]
    return found


SCRIPTS = {"lean": "lean_cli.py", "click": "framework_cli.py", "typer-app": "framework_cli.py",
           "argparse-app": "framework_cli.py", "typer": "typer_cli.py"}  # fmt: skip


def count(argv: list[str], env: dict[str, str], cwd: Path) -> int:
    """Instructions of one process (its children not traced)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += ["--trace-children=no", *argv]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=900)
    found = COLLECTED.search(done.stderr)
    if done.returncode or not found:
        raise RuntimeError(f"{argv}: exit {done.returncode}: {done.stderr[-400:]!r}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cli", default="all", help="lean, click, typer-app, argparse-app, typer or all"
    )
    parser.add_argument("--runs", type=int, default=1, help="valgrind runs per case (median)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        print("valgrind is not installed: nothing to count", file=sys.stderr)
        return 1
    with h.Session() as s:
        todo = [c for c in cases(s.receiver) if args.cli in ("all", c.cli)]
        for case in todo:
            home = s.root / f"{case.cli}-{case.label}".translate({ord(c): "_" for c in " `()'.,"})
            env = {**h.base_env(s.root), "BENCH_MODE": case.mode, "PYTHONHASHSEED": "0"}
            env.update(case.extra)
            env[f"{ENV_PREFIX}_TELEMETRY_HOME"] = str(home)
            argv = [sys.executable, str(h.HERE / SCRIPTS[case.cli]), "run"]
            warm = h.run_process(argv, env, s.root)  # warm-up: bytecode, state dir
            if warm.code or warm.stderr:
                raise RuntimeError(f"{case.cli} {case.label}: {warm.stderr[-400:]!r}")
            h.settle(s.finder, h.Settled())
            for _ in range(args.runs):
                case.counts.append(count(argv, env, s.root))
                h.settle(s.finder, h.Settled())
            s.progress(f"{case.cli} {case.label}: {h.median(case.counts) / 1e6:.1f} M")
        rows, bare = [], {c.cli: h.median(c.counts) for c in todo if c.mode == "bare"}
        for case in todo:
            ratio = h.median(case.counts) / bare[case.cli]
            budget = ""
            if case.mode in ("disabled", "enabled_file", "enabled_otlp"):
                limit = BUDGETS[case.cli][0 if case.off else 1]
                budget = f"≤ {limit}: {'within' if ratio <= limit else '**over**'}"
            rows.append(
                (case.cli, case.label, f"{h.median(case.counts) / 1e6:.1f}", f"{ratio:.3f}", budget)
            )
        detail = f"valgrind callgrind, {args.runs} run(s) per case, PYTHONHASHSEED=0"
        headers = "CLI | mode | instructions (M) | ratio to bare | budget (DESIGN.md §6)"
        body = h.markdown(headers, rows)
        return s.report("CLI process instructions", detail, body, args.markdown)


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.exit(main())
