"""The CLI process's cost, guarded in instructions: valgrind counts what a command executes,
the same figure however loaded the machine is (two runs agree within 1 %), so this is not a
timed test. Skipped, saying so, where valgrind is missing.

The CLIs are the benchmark's (``benchmarks/lean_cli.py``: argparse, stdlib only;
``benchmarks/framework_cli.py``: a click group with ``consent_group`` + ``instrument``), run
as the README shows them. Each ratio is to the same CLI without telemetry, in this run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import COVERAGE_VARIABLES, ROOT, wait_for_exporters

BENCH = ROOT / "benchmarks"
COLLECTED = re.compile(rb"Collected : (\d+)")
DATADOG = {"BENCH_DESTINATION": "datadog", "BENCH_INTAKE_URL": "http://127.0.0.1:9/intake"}
OFF = {"DO_NOT_TRACK": "1"}
CLICK = {"BENCH_FRAMEWORK": "click"}

#: case -> (CLI, BENCH_MODE, extra environment)
CASES: dict[str, tuple[str, str, dict[str, str]]] = {
    "lean bare": ("lean_cli.py", "bare", {}),
    "lean off": ("lean_cli.py", "disabled", OFF),
    "lean on": ("lean_cli.py", "enabled_file", {}),
    "lean Datadog off": ("lean_cli.py", "disabled", {**DATADOG, **OFF}),
    "lean Datadog on": ("lean_cli.py", "enabled_file", DATADOG),
    "click bare": ("framework_cli.py", "bare", CLICK),
    "click off": ("framework_cli.py", "disabled", {**CLICK, **OFF}),
    "click on": ("framework_cli.py", "enabled_file", CLICK),
}
#: The budgets of DESIGN.md §6: case -> (its bare case, the largest ratio allowed).
BUDGETS = {
    "lean off": ("lean bare", 1.02),
    "lean on": ("lean bare", 1.15),
    "lean Datadog off": ("lean bare", 1.02),
    "lean Datadog on": ("lean bare", 1.15),
    "click off": ("click bare", 1.01),
    "click on": ("click bare", 1.05),
}
#: Where a path is still over its budget, the ratio it may not exceed meanwhile: today's
#: figure on Python 3.11 plus 0.03 (3.12 and 3.13 within 0.02 of it). What is left is the
#: package's light entry (9 modules, about 6 M instructions on every path, off included) and
#: the usage path's 27 modules (README, "Benchmark"). Lower these as the code improves.
CEILINGS = {
    "lean off": 1.09,
    "lean on": 1.28,
    "lean Datadog off": 1.11,
    "lean Datadog on": 1.30,
    "click off": 1.07,
    "click on": 1.17,
}


#: Counted runs per case, the fewest instructions kept: a run now and then takes a longer
#: path that is not the command's steady cost (seen: +20 M once in a run of eight cases).
RUNS = 2


def count(script: str, mode: str, extra: dict[str, str], tmp: Path) -> int:
    """Instructions of one run of ``script`` (its detached children not counted), after a
    warm-up run that compiles the bytecode and brings the state dir to its steady state,
    and whose exporter has left."""
    home = tmp / f"home-{script}-{mode}-{'-'.join(sorted(extra))}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp / "user-home"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "PYTHONHASHSEED": "0",
        "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
        "BENCH_MODE": mode,
        "BENCHCLI_TELEMETRY_HOME": str(home),
        # The warm-up's exporter leaves at once (the seam only shortens its linger) ...
        "OTEL_CLI_TELEMETRY_LINGER_S": "0",
        **extra,
    }
    for name in COVERAGE_VARIABLES:  # a measured subprocess would count coverage.py
        env.pop(name, None)
    argv = [sys.executable, str(BENCH / script), "run"]
    warm = subprocess.run(argv, env=env, cwd=tmp, capture_output=True, timeout=120)
    assert warm.returncode == 0, warm.stderr[-500:]
    assert not warm.stderr, warm.stderr[-500:]
    # ... and is gone before the count: the measured command finds no exporter awake and
    # starts one (an isolated command), whatever the load, so every run counts the same path.
    wait_for_exporters(home)
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += ["--trace-children=no", *argv]
    counted = []
    for _ in range(RUNS):
        done = subprocess.run(command, env=env, cwd=tmp, capture_output=True, timeout=600)
        found = COLLECTED.search(done.stderr)
        assert done.returncode == 0, done.stderr[-500:]
        assert found, done.stderr[-500:]
        counted.append(int(found.group(1)))
        wait_for_exporters(home)
    return min(counted)


@pytest.mark.timeout(900)  # eight cases, each counted twice under valgrind: slow when loaded
@pytest.mark.skipif(
    shutil.which("valgrind") is None, reason="valgrind is not installed: budgets not counted"
)
@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="before 3.11 (no -P) the launcher starts the child through subprocess.Popen, an "
    "import a lean CLI pays on every recorded command (lean on: 1.49x): the budgets are "
    "guarded from 3.11 on",
)
def test_the_cli_process_stays_within_its_instruction_budgets(tmp_path: Path) -> None:
    """Off, on, with a Datadog destination and as a click group: each path's instructions,
    as a ratio to the bare CLI, stay within its budget (or, where it is not yet met, its
    ceiling), and listing a vendor costs about what the default sink costs."""
    pytest.importorskip("click")
    counts = {name: count(*case, tmp_path) for name, case in CASES.items()}
    ratios = {name: counts[name] / counts[bare] for name, (bare, _) in BUDGETS.items()}
    table = "\n".join(
        f"{name}: {ratios[name]:.3f} (budget {budget}, ceiling {CEILINGS.get(name, budget)})"
        for name, (_, budget) in BUDGETS.items()
    )
    print(f"\n{sys.version.split()[0]}\n{table}")  # shown with -s or -rP
    over = [n for n, (_, budget) in BUDGETS.items() if ratios[n] > CEILINGS.get(n, budget)]
    assert not over, f"over budget: {over}\n{table}"
    # A vendor is checked with string operations, its sink never loaded: its cost is the
    # default sink's, not twice the whole command (2.1x off and 2.3x on before).
    assert ratios["lean Datadog off"] - ratios["lean off"] < 0.04, table
    assert ratios["lean Datadog on"] - ratios["lean on"] < 0.05, table
