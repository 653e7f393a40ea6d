"""The linger seam (``OTEL_CLI_TELEMETRY_LINGER_S``): it can only shorten the exporter
child's wait for the next command, and reaches the child only through its launcher."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from otel_cli_telemetry._exporter import child
from otel_cli_telemetry._process import launcher
from tests.conftest import ROOT

LINGER_ENV = "OTEL_CLI_TELEMETRY_LINGER_S"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0.0),
        ("0.05", 0.05),
        (" 0.5 ", 0.5),
        ("1", 1.0),
        ("5", child.LINGER_S),
        ("1e9", child.LINGER_S),
        ("inf", child.LINGER_S),
        ("-1", 0.0),
        ("-inf", 0.0),
        ("nan", child.LINGER_S),
        ("", child.LINGER_S),
        ("soon", child.LINGER_S),
        ("0x10", child.LINGER_S),
    ],
)
def test_linger_from_env_only_shortens_and_ignores_garbage(raw: str, expected: float) -> None:
    """The variable is clamped to ``[0, LINGER_S]`` and anything not a number keeps the default."""
    assert child.linger_from_env({LINGER_ENV: raw}) == expected


def test_linger_from_env_without_the_variable_is_the_default() -> None:
    """Unset, the child lingers the built-in ``LINGER_S``."""
    assert child.linger_from_env({}) == child.LINGER_S > 0


def test_launcher_passes_the_linger_only_when_the_launching_env_sets_it(tmp_path: Path) -> None:
    """``child_env`` carries the variable through when it is set, and adds nothing otherwise."""
    assert launcher.child_env({LINGER_ENV: "0"}, tmp_path)[LINGER_ENV] == "0"
    assert LINGER_ENV not in launcher.child_env({}, tmp_path)
    assert LINGER_ENV not in launcher.child_env({LINGER_ENV: ""}, tmp_path)


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", "0.0"), ("7", str(child.LINGER_S)), (None, str(child.LINGER_S))]
)
def test_the_child_entry_point_lingers_what_its_environment_says(
    tmp_path: Path, raw: str | None, expected: str
) -> None:
    """``main()`` of a real child process hands ``run_child`` the clamped linger of its own
    environment (the launcher's reduced one), the default when the variable is absent, and
    the starter of its successor."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    probe = (
        "import sys\n"
        "from otel_cli_telemetry._exporter import child\n"
        "child._settle = lambda: None\n"
        "dest = type('D', (), {'deadline_s': 5.0})()\n"
        "child.inventory.recorded = lambda paths: [(None, dest)]\n"
        "child.run_child = lambda paths, dests, linger_s, successor: print(\n"
        "    linger_s, successor is child._successor)\n"
        "sys.exit(child.main())\n"
    )
    extra = {} if raw is None else {LINGER_ENV: raw}
    env = launcher.child_env({"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **extra}, home)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.strip() == f"{expected} True"  # and its successor starter


def _spool_one(home: Path, name: str) -> None:
    """Spool one real command span (the exporter launch faked)."""
    from otel_cli_telemetry import Telemetry

    telemetry = Telemetry("assembly", home=home, env={}, spawn=lambda *a, **k: None)
    with telemetry.command(name):
        pass


def test_a_lingering_child_delivers_a_trace_spooled_while_it_waits(home: Path) -> None:
    """A child with the default linger (on a fake clock) picks up a trace spooled during its
    wait and delivers it in the same run, then leaves once a whole linger passes idle."""
    from otel_cli_telemetry._disk import delivery, inventory, spool, state
    from tests.conftest import FakeClock

    _spool_one(home, "first")
    fake = FakeClock()

    def sleep(seconds: float) -> None:
        if not fake.slept:
            _spool_one(home, "second")  # the next command, while the child lingers
        fake.sleep(seconds)

    paths = state.Paths(home=home, config_dir=home)
    report = child.run_child(
        paths,
        inventory.load(paths.destination_file),
        clock=fake.monotonic,
        wall=fake.time,
        sleep=sleep,
    )
    assert report is not None
    assert report.delivered == 2
    lines = (home / "traces.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert "assembly first" in lines[0]
    assert "assembly second" in lines[1]
    assert spool.entries(home / "spool") == []
    assert delivery.load(home / "delivery.json").exporter_runs == 1
    assert sum(fake.slept) >= child.LINGER_S  # it waited a whole linger idle before leaving


def test_a_child_with_no_linger_never_waits(home: Path) -> None:
    """With ``linger_s=0`` (what the seam gives tests) the child delivers and leaves
    without a single wait."""
    from otel_cli_telemetry._disk import inventory, state
    from tests.conftest import FakeClock

    _spool_one(home, "only")
    fake = FakeClock()
    paths = state.Paths(home=home, config_dir=home)
    report = child.run_child(
        paths,
        inventory.load(paths.destination_file),
        clock=fake.monotonic,
        wall=fake.time,
        sleep=fake.sleep,
        linger_s=0.0,
    )
    assert report is not None
    assert report.delivered == 1
    assert fake.slept == []
