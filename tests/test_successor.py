"""The exporter's successor: a trace spooled while a child holds the marker starts no
exporter of its own, so that child sends it, or, when its deadline leaves too little time
for the request, starts the next exporter for it. No trace waits for some later command.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import contract, delivery, destination, locks, spool, state
from otel_cli_telemetry._disk import marker as coordination
from otel_cli_telemetry._exporter import child
from otel_cli_telemetry._exporter import successor as successor_mod
from otel_cli_telemetry._process import launcher
from tests.collector import OtlpReceiver
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
        self.names.append(name)


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Successors the children under test start: counted, not started (a test process's
    own argv is pytest's); the marker claim they take is real. Tests hand ``run_child``
    ``successor_mod.start`` as ``main`` does: its default starts none."""
    started: list[int] = []

    def fake_spawn() -> int:
        started.append(1)
        return 4242

    monkeypatch.setattr(successor_mod, "_spawn", fake_spawn)
    return started


def spooled_names(home: Path) -> set[str]:
    found: set[str] = set()
    for spool_dir in home.glob("spool*"):  # every queue's
        for entry in spool.entries(spool_dir):
            found.update(_names_in(Path(entry.path).read_text(errors="replace")))
    return found


def _names_in(text: str) -> list[str]:
    import re

    return re.findall(r'"assembly ([^"]+)"', text)


def run_paced_child(
    home: Path,
    commands: Commands,
    polls: Iterable[int],
    successor: Callable[[state.Paths], int | None] | None,
) -> None:
    """The real child on a fake clock (``LINGER_POLL_S`` a poll), a command at each of its
    ``polls`` (the n-th sleep), the default destination."""
    fake = FakeTime()
    for n in polls:
        fake.hooks[n] = lambda n=n: commands.run(f"c{n}")  # type: ignore[misc]
    child.run_child(
        paths_for(home),
        [destination.Destination()],
        clock=fake.clock,
        sleep=fake.sleep,
        successor=successor,
    )


@pytest.mark.parametrize("every", [1, 2, 3, 5, 6, 7, 11])
def test_every_trace_is_sent_by_the_child_or_by_an_exporter_started_for_it(
    home: Path, every: int, spawned: list[int]
) -> None:
    """Commands every ``every`` polls (0.25-2.75 s) from start to past the deadline: each
    trace is sent by the child, or its command found the marker free and started the next
    exporter, or the child, out of time, started a successor (which holds the claim) and
    the trace waits for it in the spool. None is sent twice."""
    commands = Commands(home)
    commands.run("c0")
    commands.started_exporter.clear()  # the child below is the exporter c0 started
    run_paced_child(home, commands, range(every, 60, every), successor_mod.start)
    sent = [name for line in sink_lines(home) for name in _names_in(line)]
    waiting = spooled_names(home)
    assert len(sent) == len(set(sent))  # nothing sent twice
    for name in commands.names:
        covered = name in sent or name in commands.started_exporter
        assert covered or (spawned and name in waiting), name
    if spawned:  # the successor's claim is held for it; nobody else may start one
        assert spawned == [1]
        assert waiting
        assert (home / coordination.MARKER).exists()
        coordination.release_claim(paths_for(home))
    commands.run("after")  # the first command once every exporter has left
    assert "after" in commands.started_exporter


def test_the_deadline_with_work_waiting_starts_one_successor(
    home: Path, spawned: list[int]
) -> None:
    """Commands every 1.5 s keep a child busy to its deadline; the trace left for lack of
    time makes it start exactly one successor, with the marker claimed for it."""
    commands = Commands(home)
    commands.run("c0")
    run_paced_child(home, commands, range(6, 72, 6), successor_mod.start)  # every 1.5 s
    assert spawned == [1]
    assert spooled_names(home)
    assert (home / coordination.MARKER).exists()


def test_a_new_destination_too_close_to_the_deadline_is_left_to_the_successor(
    home: Path, spawned: list[int]
) -> None:
    """A trace for a destination this run has not sent to yet, 1.5 s before the deadline,
    once the run has sent a request: not sent with that little time (it could be cut short,
    fail and be sent twice), but left to the successor. Nothing failed, nothing backs off."""
    commands = Commands(home)
    commands.run("local")
    with OtlpReceiver() as receiver:
        remote = Commands(home, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url})
        fake = FakeTime()
        fake.hooks[int(8.5 / child.LINGER_POLL_S)] = lambda: remote.run("remote")
        child.run_child(
            paths_for(home),
            [destination.Destination()],
            clock=fake.clock,
            sleep=fake.sleep,
            linger_s=60.0,  # awake to the deadline
            successor=successor_mod.start,
        )
        assert receiver.requests == []
    assert spawned == [1]
    assert spooled_names(home) == {"remote"}
    for state_file in home.glob("delivery*.json"):
        kept = delivery.load(state_file)
        assert (kept.failures, kept.in_backoff()) == (0, False)


def test_a_child_that_could_not_send_starts_no_successor(home: Path, spawned: list[int]) -> None:
    """Locked out of the queue for its whole life (a stuck foreground drainer holds it)
    the child sent nothing, so it starts no successor: a chain of exporters that never
    send is not started; the drainer that holds the lock looks at the spool when done."""
    Commands(home).run("only")
    holder = locks.FileLock(paths_for(home).export_lock)
    assert holder.acquire(timeout=1.0)
    try:
        report = child.run_child(
            paths_for(home),
            [destination.Destination(deadline_s=1.0)],
            linger_s=0.0,
            successor=successor_mod.start,
        )
    finally:
        holder.release()
    assert report is not None
    assert report.attempts == 0
    assert spawned == []
    assert spooled_names(home) == {"only"}
    assert not (home / coordination.MARKER).exists()


def test_a_queue_recorded_while_the_child_drains_is_sent_by_it(
    home: Path, monkeypatch: pytest.MonkeyPatch, spawned: list[int]
) -> None:
    """A command for a destination with no queue yet, spooled during the child's request
    (so the idle watch, started after it, sees no change): the last look reads the queues
    again, finds it and the child sends it."""
    commands = Commands(home)
    commands.run("local")
    real_drain = child.drain
    with OtlpReceiver() as receiver:
        remote = Commands(home, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url})

        def drain_then_record(*args: object, **kwargs: object) -> object:
            report = real_drain(*args, **kwargs)  # type: ignore[arg-type]
            if not remote.names:
                remote.run("remote")
            return report

        monkeypatch.setattr(child, "drain", drain_then_record)
        child.run_child(
            paths_for(home),
            [destination.Destination()],
            linger_s=0.0,
            successor=successor_mod.start,
        )
        names = [s.name for s in receiver.wait_for_spans(1)]
    assert names == ["assembly remote"]
    assert spooled_names(home) == set()
    assert spawned == []


def test_a_successor_is_not_started_when_a_command_holds_the_claim(
    home: Path, spawned: list[int]
) -> None:
    """A command claimed the marker after the child gave it up: that command starts the
    next exporter, so the child starts none and leaves the claim alone."""
    Commands(home).run("a")
    assert coordination.claim(paths_for(home))  # the command's claim
    assert successor_mod.start(paths_for(home)) is None
    assert spawned == []
    assert (home / coordination.MARKER).exists()


def test_a_successor_that_cannot_start_gives_the_claim_back(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No successor could be started (no argv to start it with): the claim is given back,
    so the next command finds the marker free and starts one."""
    Commands(home).run("a")
    monkeypatch.setattr(sys, "orig_argv", [])
    assert successor_mod.start(paths_for(home)) is None
    assert not (home / coordination.MARKER).exists()
    assert coordination.claim(paths_for(home))


def test_only_an_exporter_started_by_the_launcher_starts_a_successor(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In any other process (this test's, a host that calls ``run_child``) ``sys.orig_argv``
    is that process's own command line: nothing is started, and the claim is given back."""
    Commands(home).run("a")
    monkeypatch.delenv(contract.CHILD_MARKER, raising=False)
    monkeypatch.setenv(contract.HOME_ENV, str(home))
    assert successor_mod.start(paths_for(home)) is None
    monkeypatch.setenv(contract.CHILD_MARKER, "1")
    monkeypatch.delenv(contract.HOME_ENV)
    assert successor_mod.start(paths_for(home)) is None
    assert not (home / coordination.MARKER).exists()


def test_run_child_starts_no_successor_unless_given_one(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_child``'s default starts nothing: out of time with work waiting, it leaves
    the marker free for the next command."""
    called: list[object] = []
    monkeypatch.setattr(successor_mod, "start", lambda *a: called.append(a))
    commands = Commands(home)
    commands.run("c0")
    run_paced_child(home, commands, range(6, 72, 6), None)  # run_child's default
    assert called == []
    assert spooled_names(home)
    assert not (home / coordination.MARKER).exists()


class SlowFirstAnswer:
    """An OTLP/HTTP receiver on loopback whose first answer takes ``delay`` seconds (a
    healthy but slow backend); it records the span names of every request it accepts."""

    def __init__(self, delay: float) -> None:
        self.names: list[str] = []
        self.requests = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.requests += 1
                    first = outer.requests == 1
                if first:
                    time.sleep(delay)
                request = ExportTraceServiceRequest.FromString(body)
                with outer._lock:
                    outer.names += [
                        span.name
                        for rs in request.resource_spans
                        for ss in rs.scope_spans
                        for span in ss.spans
                    ]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def slow_first() -> Iterator[SlowFirstAnswer]:
    server = SlowFirstAnswer(delay=2.5)
    try:
        yield server
    finally:
        server.close()


SHORT_DEADLINE_CLI = """
import sys
from otel_cli_telemetry import Telemetry

telemetry = Telemetry("assembly", export_deadline=3.0)
with telemetry.command(sys.argv[1]):
    pass
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_real_exporter_out_of_time_starts_a_real_successor(
    home: Path, tmp_path: Path, slow_first: SlowFirstAnswer
) -> None:
    """Real processes: the first exporter's request takes 2.5 s of its 3 s; a second
    command spools meanwhile (the marker is held: it starts none). Too little time is left
    for another request, so the exporter starts its successor, which sends the second
    trace: both arrive without a flush, through two exporters, never more than two alive."""
    script = tmp_path / "short_deadline_cli.py"
    script.write_text(SHORT_DEADLINE_CLI)
    env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=slow_first.url)
    with ExporterSampler(home) as sampler:
        for name in ("first", "second"):
            done = subprocess.run(
                [sys.executable, str(script), name], env=env, capture_output=True, timeout=60
            )
            assert (done.returncode, done.stderr) == (0, b"")
            until = time.monotonic() + 20
            while not slow_first.requests and time.monotonic() < until:
                time.sleep(0.02)  # the second command comes while the first request waits
        wait_for_exporters(home)
        deadline = time.monotonic() + 20
        while len(slow_first.names) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        wait_for_exporters(home)
    assert sorted(slow_first.names) == ["assembly first", "assembly second"]
    assert delivery.load(home / "delivery.json").exporter_runs == 2
    assert spool.entries(home / "spool") == []
    assert sampler.max_alive <= 2


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_real_commands_across_exporters_lose_nothing(home: Path, tmp_path: Path) -> None:
    """Real commands every 0.4 s for 6 s, a 3 s export deadline and the real linger: every
    trace reaches the local file without a flush, through at least two exporters, never
    more than two alive at once. Real timing cannot choose the moment a trace comes: the
    fake-clock tests above try each."""
    script = tmp_path / "paced_cli.py"
    script.write_text(SHORT_DEADLINE_CLI)
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
        wait_for_exporters(home)  # a successor started by the last one
    sent = [name for line in sink_lines(home) for name in _names_in(line)]
    assert sorted(sent) == sorted(names)
    assert spool.entries(home / "spool") == []
    assert delivery.load(home / "delivery.json").exporter_runs >= 2
    assert sampler.max_alive <= 2


def test_the_successor_gets_the_environment_the_launcher_gave_not_what_was_added() -> None:
    """Whatever the host's environment, the successor's is exactly the one the launcher
    built for the first exporter; what a frozen app's bootloader adds to its exporter (its
    unpack directory, deleted when that exporter exits) is not passed on."""
    host = {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
        "AWS_SECRET_ACCESS_KEY": "host secret",
        "OTEL_CLI_TELEMETRY_POLICY": "/etc/p.toml",
        "PYTHONPATH": "/opt/lib",
    }
    given = launcher.child_env(host, "/home/u/.local/state/app")
    bootloader = {
        "_PYI_APPLICATION_HOME_DIR": "/tmp/_MEI123",
        "_PYI_ARCHIVE_FILE": "/usr/bin/app",
        "_PYI_PARENT_PROCESS_LEVEL": "1",
        "LD_LIBRARY_PATH": "/tmp/_MEI123",
    }
    assert successor_mod.launcher_environment({**given, **bootloader}) == given
    assert "AWS_SECRET_ACCESS_KEY" not in given


def test_only_the_exporters_own_command_line_is_started_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The successor's argv is this process's only when it is the launcher's: the ``-c``
    entry, or a frozen app's binary with the exporter's variable set. A host that calls
    ``child.main`` itself (its own command line) starts nothing."""
    monkeypatch.setenv(contract.CHILD_MARKER, "1")
    monkeypatch.setenv(contract.HOME_ENV, str(tmp_path))
    monkeypatch.delenv(contract.FROZEN_EXPORTER_ENV, raising=False)
    exporter = [sys.executable, "-P", "-c", contract.EXPORTER_CODE]
    assert launcher.argv()[-2:] == exporter[-2:]
    monkeypatch.setattr(sys, "orig_argv", exporter)
    assert successor_mod.exporter_argv() == exporter
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-c", "host()", "--flag"])
    assert successor_mod.exporter_argv() is None
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "orig_argv", ["/usr/bin/app"])
    assert successor_mod.exporter_argv() is None  # the app itself, not its exporter
    monkeypatch.setenv(contract.FROZEN_EXPORTER_ENV, "1")
    assert successor_mod.exporter_argv() == ["/usr/bin/app"]
