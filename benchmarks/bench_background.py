"""What the machine pays at an interactive pace: N commands of the lean CLI, one every
``--pace`` seconds, with every process they start (our exporter, the seeds' sender).

    python benchmarks/bench_background.py --markdown benchmarks/RESULTS-background.md

Per mode, the CPU of the commands and of their detached children: exact, from ``os.wait4``
(this process is the children's subreaper, so they are reaped here) and, where this machine
lets us make a cgroup v1 ``cpuacct`` group (``/sys/fs/cgroup/cpuacct``), from its
``cpuacct.usage`` too (every task of the group, whoever reaps it). ``ours`` and ``seeds``
both really deliver to a receiver on 127.0.0.1; ``ours (file)`` is the default sink.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import _harness as h
from _modes import ENV_PREFIX

CGROUP_ROOT = Path("/sys/fs/cgroup/cpuacct")
MODES = {"bare": "bare", "ours (OTLP)": "enabled_otlp", "ours (file)": "enabled_file",
         "seeds": "seeds"}  # fmt: skip


@dataclass
class Paced:
    cli_cpu_s: float = 0.0
    children: h.Settled | None = None
    cgroup_s: float | None = None
    received: int = 0
    wall_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.cli_cpu_s + (self.children.cpu_s if self.children else 0.0)


class Group:
    """A cpuacct cgroup (v1) for one block, if we may make one; else nothing."""

    def __init__(self, name: str) -> None:
        self.path: Path | None = CGROUP_ROOT / name
        try:
            self.path.mkdir()
        except OSError:
            self.path = None

    def enter(self) -> None:
        """In the child before exec: join the group (its children follow)."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def usage_s(self) -> float | None:
        if self.path is None:
            return None
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def remove(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.rmdir()


def run_paced(s: h.Session, label: str, mode: str, n: int, pace: float, tag: str) -> Paced:
    import subprocess

    env = {**h.base_env(s.root), "BENCH_MODE": mode}
    env[f"{ENV_PREFIX}_TELEMETRY_HOME"] = str(s.root / f"home-{tag}")
    if mode != "enabled_file":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = s.receiver.url(tag)
    argv = [sys.executable, str(h.HERE / "lean_cli.py"), "run"]
    warm = h.run_process(argv, env, s.root)  # bytecode and state dir, not counted
    if warm.code:
        raise RuntimeError(f"{label}: {warm.stderr[-300:]!r}")
    h.settle(s.finder, h.Settled())
    with s.receiver.lock:
        s.receiver.received.pop(tag, None)
    group = Group(f"otel-cli-bench-{os.getpid()}-{tag}")
    result, children = Paced(), h.Settled()
    started = time.monotonic()
    try:
        for i in range(n):
            next_at = started + i * pace
            time.sleep(max(0.0, next_at - time.monotonic()))
            h.reap(children)
            proc = subprocess.Popen(
                argv, env=env, cwd=s.root, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, preexec_fn=group.enter,
            )  # fmt: skip
            _, status, usage = os.wait4(proc.pid, 0)
            if os.waitstatus_to_exitcode(status):
                raise RuntimeError(f"{label}: a command failed")
            result.cli_cpu_s += usage.ru_utime + usage.ru_stime
        h.settle(s.finder, children, max_age_s=30.0)
        result.wall_s = time.monotonic() - started
        result.children, result.cgroup_s = children, group.usage_s()
    finally:
        group.remove()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and s.receiver.received.get(tag, 0) < n:
        time.sleep(0.05)
    result.received = s.receiver.received.get(tag, 0)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=15, help="commands per mode (15)")
    parser.add_argument("--pace", type=float, default=1.5, help="seconds between starts (1.5)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--modes", default=",".join(MODES), help="which modes, comma-separated")
    args = parser.parse_args()
    chosen = {label: MODES[label] for label in args.modes.split(",")}
    results: dict[str, Paced] = {}
    with h.Session() as s:
        for i, (label, mode) in enumerate(chosen.items()):
            results[label] = run_paced(s, label, mode, args.commands, args.pace, f"m{i}")
            r = results[label]
            s.progress(f"{label}: {r.total_s * 1e3:.0f} ms CPU, {r.children.started} children")  # type: ignore[union-attr]
        bare = results["bare"].total_s if "bare" in results else float("nan")
        seeds = results["seeds"].total_s if "seeds" in results else float("nan")
        rows = []
        for label, r in results.items():
            assert r.children is not None
            cgroup = "-" if r.cgroup_s is None else f"{r.cgroup_s * 1e3:.0f}"
            received = "-" if label == "bare" else f"{r.received}/{args.commands}"
            if label == "ours (file)":
                received = "(local file)"
            rows.append((
                label, f"{r.cli_cpu_s * 1e3:.0f}", r.children.started,
                f"{r.children.cpu_s * 1e3:.0f}", f"{r.total_s * 1e3:.0f}", cgroup,
                f"{r.total_s / bare:.2f}", f"{r.total_s / seeds:.2f}", received,
            ))  # fmt: skip
        headers = (
            "mode | CLI CPU ms | children started | children CPU ms | total CPU ms (wait4) "
            "| total CPU ms (cpuacct cgroup) | total / bare | total / seeds | spans received"
        )
        detail = f"{args.commands} lean commands, one every {args.pace} s, each mode in turn"
        body = h.markdown(headers, rows)
        return s.report("CPU at an interactive pace", detail, body, args.markdown)


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.exit(main())
