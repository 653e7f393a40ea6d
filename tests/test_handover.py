"""The exporter's hand-over at the end of its life: a trace spooled while a child holds the
marker starts no exporter of its own, so that child sends it; by ``handover_reserve``
before its deadline the child gives the marker up for good, and a command that spools
after that starts the next exporter. Whichever way, no trace waits for some later command.
(That the last pass has time for its request: ``test_review_findings``.)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import delivery, destination, spool, state
from otel_cli_telemetry._disk import marker as coordination
from otel_cli_telemetry._exporter import child
from tests.conftest import ExporterSampler, cli_env, lingering, wait_for_exporters
from tests.test_exporter_lifecycle import FakeTime, sink_lines


def paths_for(home: Path) -> state.Paths:
    return state.Paths(home=home, config_dir=home)


class Commands:
    """Real commands spooling real spans; each remembers whether its own hand-off claimed
    the marker, which is when a real command starts an exporter (here: the claim is given
    back at once, as by an exporter that started, sent the trace and left)."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home, self.env = home, env or {}
        self.names: list[str] = []
        self.started_exporter: set[str] = set()

    def run(self, name: str) -> None:
        def spawn(*_args: object, **_kwargs: object) -> None:
            self.started_exporter.add(name)  # returns no process: the claim is given back

        telemetry = Telemetry("assembly", home=self.home, env=self.env, spawn=spawn)
        with telemetry.command(name):
            pass
        self.names.append(f"assembly {name}")


@pytest.mark.parametrize("every", [1, 2, 3, 5, 6, 7, 11])
def test_every_trace_is_sent_by_the_child_or_starts_the_next_one(home: Path, every: int) -> None:
    """Commands every ``every`` polls (0.25-2.75 s) from start to past the deadline: each
    trace is sent by the child, or its command found the marker free and started the next
    exporter. None is left to wait, none is sent twice."""
    commands = Commands(home)
    commands.run("c0")
    commands.started_exporter.clear()  # the child below is the exporter c0 started
    fake = FakeTime()
    for n in range(every, 60, every):
        fake.hooks[n] = lambda n=n: commands.run(f"c{n}")  # type: ignore[misc]
    child.run_child(
        paths_for(home), [destination.Destination()], clock=fake.clock, sleep=fake.sleep
    )
    commands.run("after")  # the first command once the child has left
    sent = sink_lines(home)
    sent_names = [name for name in commands.names if any(f'"{name}"' in s for s in sent)]
    for name in commands.names:
        short = name.removeprefix("assembly ")
        assert name in sent_names or short in commands.started_exporter, name
    assert len(sent) == len(sent_names)  # one line per trace: nothing sent twice
    assert "after" in commands.started_exporter
    assert fake.now <= 10.0 - child.handover_reserve(10.0)  # the hand-over came in time
    assert not (home / coordination.MARKER).exists()


def test_the_marker_is_free_for_the_last_part_of_a_childs_life(home: Path) -> None:
    """Once the hand-over has come, a command finds no marker, though the child is still
    sending what it owes: its claim succeeds, so it starts the next exporter."""
    commands = Commands(home)
    commands.run("a")
    commands.started_exporter.clear()
    claims: list[bool] = []
    real_drain = child.drain

    def drain_and_probe(*args: object, **kwargs: object) -> object:
        claims.append(coordination.claim(paths_for(home)))
        if claims[-1]:
            coordination.release_claim(paths_for(home))
        return real_drain(*args, **kwargs)  # type: ignore[arg-type]

    fake = FakeTime()
    handover = 10.0 - child.handover_reserve(10.0)
    fake.hooks[int((handover - 1.0) / child.LINGER_POLL_S)] = lambda: commands.run("b")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(child, "drain", drain_and_probe)
        child.run_child(
            paths_for(home),
            [destination.Destination()],
            clock=fake.clock,
            sleep=fake.sleep,
            linger_s=60.0,  # stays until the hand-over
        )
    assert claims == [False, True]  # a held during the first pass, free during the last
    assert len(sink_lines(home)) == 2


@pytest.mark.parametrize(
    ("deadline", "reserve"), [(10.0, 2.5), (30.0, 2.5), (4.0, 1.0), (1.0, 0.25)]
)
def test_the_reserve_is_time_for_one_request_or_a_quarter_of_a_short_deadline(
    deadline: float, reserve: float
) -> None:
    """One request's time (``MIN_ATTEMPT_S`` and a margin), never more than a quarter of
    the child's life: a short deadline still leaves most of it to the normal passes."""
    assert child.handover_reserve(deadline) == reserve


PACED_CLI = """
import sys
from otel_cli_telemetry import Telemetry

telemetry = Telemetry("assembly", export_deadline=4.0)  # hands over after 3 s
with telemetry.command(sys.argv[1]):
    pass
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_real_commands_across_a_hand_over_lose_nothing(home: Path, tmp_path: Path) -> None:
    """Real commands every 0.4 s for 6 s, with a 4 s export deadline (a hand-over at 3 s)
    and the real linger: every trace reaches the local file without a flush, through at
    least two exporters, never more than two alive at once. Real processes and real timing,
    so it cannot choose the moment a trace comes: the fake-clock test above tries each."""
    script = tmp_path / "paced_cli.py"
    script.write_text(PACED_CLI)
    env = lingering(cli_env(home))
    names = [f"c{n}" for n in range(15)]
    with ExporterSampler(home) as sampler:
        for name in names:
            done = subprocess.run(
                [sys.executable, str(script), name], env=env, capture_output=True, timeout=60
            )
            assert (done.returncode, done.stderr) == (0, b"")
            time.sleep(0.4)  # the pace of a user, not a timing assertion
        wait_for_exporters(home)
    sent = sink_lines(home)
    assert sorted(n for n in names if any(f'"assembly {n}"' in line for line in sent)) == sorted(
        names
    )
    assert len(sent) == len(names)
    assert spool.entries(home / "spool") == []
    assert delivery.load(home / "delivery.json").exporter_runs >= 2
    assert sampler.max_alive <= 2
