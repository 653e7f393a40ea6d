"""Shared fixtures: a clean environment for every test, and helpers to run real CLIs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.collector import Behaviour, OtlpReceiver, RawServer, Rotel, rotel_binary_or_skip

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

_SCRUB_PREFIXES = ("OTEL_", "ASSEMBLY_", "NOTES_", "TASKS_", "DEMO_")
_SCRUB = ("DO_NOT_TRACK", "TRACEPARENT", "TRACESTATE", "BAGGAGE")

#: The linger seam (``_exporter.child.linger_from_env``): exporter children started by the
#: tests exit as soon as their queue is empty instead of waiting a second for a next command
#: that never comes. Tests that prove lingering use ``lingering(env)`` (the real default).
LINGER_ENV = "OTEL_CLI_TELEMETRY_LINGER_S"
TEST_LINGER_S = "0"


def lingering(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the linger seam: its exporter children linger the real ``LINGER_S``."""
    return {k: v for k, v in env.items() if k != LINGER_ENV}


#: The longest tests (about 40 s each on 2 cores): started first, so that under pytest-xdist
#: the rest of the suite runs beside them instead of after them.
LONG_POLES = (
    "tests/test_load.py::test_1000_sequential_runs_lose_nothing_and_never_pile_up",
    "tests/test_frozen.py::test_a_pyinstaller_binary_delivers_its_spans",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run ``LONG_POLES`` first (a stable sort: the order is otherwise unchanged)."""
    items.sort(key=lambda item: item.nodeid not in LONG_POLES)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No OTEL_*, DO_NOT_TRACK or app variable leaks in; state goes under tmp_path; exporter
    children do not linger (``LINGER_ENV``)."""
    for name in list(os.environ):
        if name.startswith(_SCRUB_PREFIXES) or name in _SCRUB:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(LINGER_ENV, TEST_LINGER_S)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return tmp_path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A telemetry home that does not exist yet (the library creates it, 0700)."""
    return tmp_path / "telemetry-home"


def exporter_pids(home: Path) -> list[int]:
    """Exporter children working for ``home`` (read from /proc; Linux only)."""
    found = []
    wanted = f"OTEL_CLI_TELEMETRY_HOME_DIR={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"otel_cli_telemetry._exporter.child" not in cmdline:
                continue
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_for_exporters(home: Path, timeout: float = 15.0) -> None:
    """Block until no exporter child for ``home`` is alive (they exit by their deadline)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not exporter_pids(home):
            return
        time.sleep(0.05)
    raise AssertionError(f"exporters still alive after {timeout}s: {exporter_pids(home)}")


def stop_exporters(home: Path) -> None:
    """SIGKILL every exporter child for ``home`` and wait until they are gone (a test that
    has seen what it needs does not wait out a child's retries to its deadline)."""
    for pid in exporter_pids(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_for_exporters(home)


def wait_for_failure(home: Path, timeout: float = 20.0) -> None:
    """Block until ``delivery.json`` in ``home`` records at least one failed attempt."""
    from otel_cli_telemetry._disk import delivery

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if delivery.load(home / "delivery.json").failures >= 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"no failed delivery recorded in {home} after {timeout}s")


@pytest.fixture
def reap_exporters(home: Path) -> Iterator[Path]:
    """Make sure every exporter child started for ``home`` is gone when the test ends."""
    yield home
    for pid in exporter_pids(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


#: coverage.py's variables: a CI run under coverage measures subprocesses through them. A
#: test that takes the disk away from a subprocess drops them, or coverage itself would
#: complain on stderr that it cannot write its data file.
COVERAGE_VARIABLES = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START", "COVERAGE_FILE")


def without_coverage(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a subprocess whose files cannot grow (no coverage data file there)."""
    return {k: v for k, v in env.items() if k not in COVERAGE_VARIABLES}


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a real CLI subprocess: ours, minus telemetry settings, with
    exporter children that do not linger (see ``lingering``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    for name in _SCRUB:
        env.pop(name, None)
    env["ASSEMBLY_TELEMETRY_HOME"] = str(home)
    env["NOTES_TELEMETRY_HOME"] = str(home)
    env["TASKS_TELEMETRY_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT)
    env[LINGER_ENV] = TEST_LINGER_S
    env.update(extra)
    return env


def run_example(
    script: str, *args: str, env: dict[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A loopback port that accepts TCP connections and never answers (a blackholed
    collector). Yields its base URL; closed when the test ends."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections complete in the kernel backlog; nobody reads them
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def pipeline() -> Iterator[tuple[Rotel, OtlpReceiver]]:
    """rotel on free loopback ports, forwarding to an in-test OTLP backend (per module)."""
    binary = rotel_binary_or_skip()
    with OtlpReceiver() as receiver:
        collector = Rotel(receiver.url, binary=binary).start()
        try:
            yield collector, receiver
        finally:
            collector.stop()


class ExporterSampler:
    """Samples /proc in a thread: how many exporter children for ``home`` are alive at once."""

    def __init__(self, home: Path, interval: float = 0.01) -> None:
        import threading

        self.home = home
        self.interval = interval
        self.max_alive = 0
        self.seen: set[int] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = exporter_pids(self.home)
            self.samples += 1
            self.seen.update(pids)
            self.max_alive = max(self.max_alive, len(pids))
            self._stop.wait(self.interval)

    def __enter__(self) -> ExporterSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class FakeClock:
    """A clock for the ``clock=``, ``wall=`` and ``sleep=`` seams: ``sleep`` records the
    wait and moves both clocks on at once, so a back-off costs no real time."""

    def __init__(self, monotonic: float = 1000.0, wall: float = 1_700_000_000.0) -> None:
        self.now = monotonic
        self.wall_now = wall
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall_now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.wall_now += seconds


@pytest.fixture
def raw() -> Iterator[Callable[[Behaviour], RawServer]]:
    """Start loopback servers that misbehave on purpose (``RawServer``); closed after."""
    servers: list[RawServer] = []

    def start(behave: Behaviour) -> RawServer:
        servers.append(RawServer(behave))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
