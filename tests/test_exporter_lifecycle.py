"""The exporter's lifecycle: it stays asleep for the next commands' traces, its idle wait
only stats, it still leaves by its deadline, and one exporter serves a burst of commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import child_marker, delivery, destination, spool, state
from otel_cli_telemetry._disk import marker as coordination
from otel_cli_telemetry._exporter import child
from tests.collector import OtlpReceiver
from tests.conftest import cli_env, lingering, run_example, wait_for_exporters


def paths_for(home: Path) -> state.Paths:
    return state.Paths(home=home, config_dir=home)


def spool_command(home: Path, name: str, env: dict[str, str] | None = None) -> None:
    """One real command span, spooled through the real pipeline (exporter launch faked)."""
    telemetry = Telemetry("assembly", home=home, env=env or {}, spawn=lambda *a, **k: None)
    with telemetry.command(name):
        pass


class FakeTime:
    """A monotonic clock that only ``sleep`` moves; ``at`` runs a hook at the n-th sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.hooks: dict[int, Callable[[], None]] = {}

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        hook = self.hooks.pop(self.sleeps, None)
        if hook is not None:
            hook()


def sink_lines(home: Path) -> list[str]:
    path = home / "traces.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_a_trace_spooled_while_the_child_waits_is_sent_by_the_same_child(home: Path) -> None:
    """A command that comes while the exporter waits is served by it: no second exporter."""
    spool_command(home, "first")
    fake = FakeTime()
    fake.hooks[3] = lambda: spool_command(home, "second")
    child.run_child(
        paths_for(home), [destination.Destination()], clock=fake.clock, sleep=fake.sleep
    )
    assert len(sink_lines(home)) == 2
    assert not spool.entries(paths_for(home).spool_dir)
    assert delivery.load(paths_for(home).delivery_file).exporter_runs == 1
    assert not (home / coordination.MARKER).exists()


def test_the_idle_wait_stats_and_never_lists_the_spool(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asleep, the child looks at mtimes only: the spool is listed a handful of times in all,
    not once per poll."""
    spool_command(home, "only")
    listed: list[str] = []
    real_entries = spool.entries

    def counting(spool_dir: object) -> list[spool.Entry]:
        listed.append(str(spool_dir))
        return real_entries(spool_dir)  # type: ignore[arg-type]

    monkeypatch.setattr(spool, "entries", counting)
    fake = FakeTime()
    child.run_child(
        paths_for(home), [destination.Destination()], clock=fake.clock, sleep=fake.sleep
    )
    polls = child.LINGER_S / child.LINGER_POLL_S
    assert fake.sleeps >= polls - 1  # it did wait, poll after poll
    assert len(listed) <= 6  # drain, stalled check, linger start, last look, margin
    assert fake.now >= child.LINGER_S  # it stayed the whole linger


def test_the_child_leaves_by_its_deadline_however_long_the_linger(home: Path) -> None:
    """A linger longer than the deadline is cut short: the child is gone before its deadline."""
    spool_command(home, "only")
    fake = FakeTime()
    dest = destination.Destination(deadline_s=4.0)
    child.run_child(paths_for(home), [dest], clock=fake.clock, sleep=fake.sleep, linger_s=1e6)
    assert fake.now < 4.0
    assert not (home / coordination.MARKER).exists()
    assert len(sink_lines(home)) == 1


def test_commands_keep_the_child_awake_until_its_deadline(home: Path) -> None:
    """A command every 1.5 s keeps one child busy until its deadline, never longer."""
    spool_command(home, "c0")
    fake = FakeTime()
    per_poll = child.LINGER_POLL_S
    every = int(1.5 / per_poll)
    for n in range(1, 12):  # a command every 1.5 s, fake time, for 16.5 s
        fake.hooks[n * every] = lambda n=n: spool_command(home, f"c{n}")  # type: ignore[misc]
    child.run_child(
        paths_for(home), [destination.Destination()], clock=fake.clock, sleep=fake.sleep
    )
    sent = len(sink_lines(home))
    assert 5 <= sent < 12  # served the commands of its 10 s, left the rest to the next child
    assert fake.now < destination.Destination().deadline_s
    assert delivery.load(paths_for(home).delivery_file).exporter_runs == 1


def test_a_change_of_destination_while_asleep_is_followed(home: Path) -> None:
    """A command recorded for a destination with no queue yet writes that queue's record:
    the waiting child reads the queues again and sends the new trace where it was recorded
    for, and the local one to the local file."""
    spool_command(home, "local")
    fake = FakeTime()
    with OtlpReceiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        fake.hooks[2] = lambda: spool_command(home, "remote", env)
        child.run_child(
            paths_for(home), [destination.Destination()], clock=fake.clock, sleep=fake.sleep
        )
        names = [s.name for s in receiver.wait_for_spans(1)]
    assert names == ["assembly remote"]
    assert [json.loads(line)["resourceSpans"] for line in sink_lines(home)]


def test_one_exporter_serves_commands_at_an_interactive_pace(home: Path) -> None:
    """Three real commands started 1.5 s apart start one exporter, which delivers all
    three. The pace is start to start, as a user's: a command slowed by a loaded machine
    does not push the next one further from the last."""
    env = lingering(cli_env(home))  # the real linger: that is what is tested
    first = time.monotonic()
    for n in range(3):
        # the pace of a user, not a timing assertion
        time.sleep(max(0.0, first + 1.5 * n - time.monotonic()))
        done = run_example("argparse_cli.py", "add", f"task {n}", env=env)
        assert done.returncode == 0, done.stderr
    wait_for_exporters(home)
    state_ = delivery.load(paths_for(home).delivery_file)
    assert state_.exporter_runs == 1
    assert len(sink_lines(home)) == 3


def _marker_naming(home: Path, pid: int, identity: dict[str, str], deadline: float) -> None:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    record = {"pid": pid, "started": time.time(), "deadline": deadline, **identity}
    (home / coordination.MARKER).write_text(json.dumps(record))
    (home / coordination.MARKER).chmod(0o600)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the fast path reads /proc")
def test_a_command_that_finds_the_exporter_awake_loads_no_takeover_check(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a child runs before its deadline, a command's claim is refused from the marker's
    bytes and /proc alone: no lock probe, no takeover module."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = paths_for(home)
    holder = child_marker.ChildMarker(paths, deadline_s=30.0)
    assert holder.adopt()
    try:
        from otel_cli_telemetry._disk import takeover

        def boom(*args: object, **kwargs: object) -> bool:
            raise AssertionError("the full takeover checks ran")

        monkeypatch.setattr(takeover, "is_stale", boom)
        assert not coordination.claim(paths)
        monkeypatch.undo()
        # Past its deadline the same child is left to the full checks (stopped or not).
        assert not coordination.claim(paths, now=time.time() + 31.0)
    finally:
        holder.give_up()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the fast path reads /proc")
def test_a_marker_naming_a_dead_child_is_still_taken_over(home: Path) -> None:
    """The fast path trusts only a live process with the recorded identity: a child that
    died (its lock dropped, its marker left) is replaced by the next command at once."""
    from otel_cli_telemetry._disk import takeover

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        identity = takeover.identity(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert identity
    _marker_naming(home, sleeper.pid, identity, time.time() + 30.0)
    assert coordination.claim(paths_for(home))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the fast path reads /proc")
def test_a_marker_naming_another_live_process_is_not_trusted(home: Path) -> None:
    """A live pid whose start time differs from the recorded one (a reused pid) does not
    pass the fast path: the lock decides, and an unlocked marker is taken over."""
    from otel_cli_telemetry._disk import takeover

    mine = takeover.identity()
    _marker_naming(home, os.getpid(), {**mine, "ticks": "1"}, time.time() + 30.0)
    assert coordination.claim(paths_for(home))
