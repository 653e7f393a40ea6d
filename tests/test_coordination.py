"""The exporter marker: one child at a time, stale markers taken over, nothing stranded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from otel_cli_telemetry._disk import child_marker, locks, state, takeover
from otel_cli_telemetry._disk import marker as coordination
from tests.conftest import ROOT


def paths_for(home: Path) -> state.Paths:
    home.mkdir(mode=0o700, exist_ok=True)
    return state.Paths(home=home, config_dir=home)


def test_only_one_claim_wins(home: Path) -> None:
    """A second claim of the exporter marker fails until the first is released."""
    paths = paths_for(home)
    assert coordination.claim(paths)
    assert not coordination.claim(paths)
    coordination.release_claim(paths)
    assert coordination.claim(paths)


def test_unadopted_claim_goes_stale_after_the_grace_period(home: Path) -> None:
    """A claim whose child never started blocks new children only for a few seconds."""
    paths = paths_for(home)
    assert coordination.claim(paths)
    marker = coordination.marker_path(paths)
    assert not takeover.is_stale(marker)
    old = time.time() - takeover.STARTUP_GRACE_S - 1
    os.utime(marker, (old, old))
    assert takeover.is_stale(marker)
    assert coordination.claim(paths)


def test_live_child_blocks_and_dead_child_is_taken_over(home: Path) -> None:
    """A child holding the marker blocks claims; once it is killed (-9) the marker is stale."""
    paths = paths_for(home)
    assert coordination.claim(paths)
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from otel_cli_telemetry._disk import child_marker, state\n"
        "home = Path(sys.argv[1])\n"
        "marker = child_marker.ChildMarker(state.Paths(home=home, config_dir=home))\n"
        "assert marker.adopt()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(home)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        marker = coordination.marker_path(paths)
        assert coordination.read_marker(marker)["pid"] == child.pid
        assert not coordination.claim(paths)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert takeover.is_stale(marker)
        assert coordination.claim(paths)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


def test_give_up_never_removes_someone_elses_marker(home: Path) -> None:
    """A child that gave the marker up never removes or reclaims a marker claimed by someone else
    since."""
    paths = paths_for(home)
    mine = child_marker.ChildMarker(paths)
    assert mine.adopt()
    mine.give_up()
    assert coordination.claim(paths)  # a command claims for its new child
    mine.give_up()  # a second give_up must not touch the new claim
    assert Path(coordination.marker_path(paths)).exists()
    assert not mine.reclaim()


def test_probe_never_recreates_a_removed_marker(home: Path) -> None:
    """Checking whether the marker is locked must not create it."""
    marker = Path(coordination.marker_path(paths_for(home)))
    assert not locks.is_locked(marker)
    assert not marker.exists()
