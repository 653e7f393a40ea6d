"""Filesystem trust and poison pills, with real processes: nothing planted in the state dir
runs, nothing linked is followed, nothing special is waited on, and one bad value costs
only itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import delivery, state, takeover
from otel_cli_telemetry._disk import marker as coordination
from otel_cli_telemetry._process import launcher
from tests.conftest import (
    LINGER_ENV,
    ROOT,
    TEST_LINGER_S,
    exporter_pids,
    lingering,
    wait_for_exporters,
    without_coverage,
)

CLI = """
import os, sys
from otel_cli_telemetry import Telemetry

t = Telemetry("trusty", version="1", env_prefix="TRUSTY",
              export_deadline=float(os.environ.get("TRUSTY_DEADLINE", "10")))
cmd = sys.argv[1] if len(sys.argv) > 1 else "run"
pid = None
with t.command(cmd):
    if cmd == "big":
        with t.tracer.start_as_current_span("child") as span:
            span.set_attribute("big", 2**70)
            span.set_attribute("nan", float("nan"))
            span.set_attribute("ok", 7)
    if cmd == "fork":
        pid = os.fork()
    print("out", cmd)
if pid == 0:
    os._exit(0)
if pid:
    os.waitpid(pid, 0)
sys.exit(int(os.environ.get("TRUSTY_EXIT", "0")))
"""

AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="another user's files need root to create (chown) or setpriv to act as",
)
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def cli(tmp_path: Path) -> Path:
    script = tmp_path / "trusty.py"
    script.write_text(CLI)
    return script


def env_for(home: Path | str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "TRUSTY_")) and k not in ("DO_NOT_TRACK", "TRACEPARENT")
    }
    env.update(TRUSTY_TELEMETRY_HOME=str(home), PYTHONPATH=str(ROOT), **extra)
    env.setdefault(LINGER_ENV, TEST_LINGER_S)  # exporters do not wait for a next command
    return env


def run(
    cli: Path,
    home: Path | str,
    *args: str,
    cwd: Path | None = None,
    preexec: Callable[[], None] | None = None,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    env = env_for(home, **extra)
    if preexec is not None:  # the disk is taken away: no coverage data file either
        env = without_coverage(env)
    return subprocess.run(
        [sys.executable, str(cli), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec,
        check=False,
    )


def sink_spans(home: Path) -> list[dict[str, object]]:
    """Spans the exporter wrote to the embedded file sink."""
    spans: list[dict[str, object]] = []
    path = home / "traces.jsonl"
    if not path.exists():
        return spans
    for line in path.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                spans.extend(ss["spans"])
    return spans


def names(home: Path) -> list[str]:
    return [str(s["name"]) for s in sink_spans(home)]


def wait_for_names(home: Path, count: int, timeout: float = 20.0) -> list[str]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = names(home)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    return names(home)


# --- 1. nothing planted in the state tree runs -------------------------------------

PLANTS = ("otel_cli_telemetry/__init__.py", "httpx.py", "json.py", "platformdirs.py", "os.py")


@linux_only
def test_packages_planted_anywhere_in_the_state_tree_never_run(
    cli: Path, tmp_path: Path, reap_exporters: Path
) -> None:
    """Modules planted in every directory of the state tree are never imported by the
    exporter child, which still delivers."""
    home = reap_exporters
    assert run(cli, home, "first").returncode == 0
    wait_for_exporters(home)
    pwned = tmp_path / "pwned"
    directories = [home, *(p for p in home.rglob("*") if p.is_dir())]
    assert home / "spool" in directories
    for directory in directories:
        for plant in PLANTS:
            target = directory / plant
            target.parent.mkdir(exist_ok=True)
            target.write_text(f"open({str(pwned)!r}, 'a').write({str(target)!r} + '\\n')\n")
    assert run(cli, home, "second", cwd=home).returncode == 0
    wait_for_exporters(home)
    assert wait_for_names(home, 2) == ["trusty first", "trusty second"]
    assert not pwned.exists(), pwned.read_text()


def test_the_child_runs_outside_the_state_dir_with_safe_path(home: Path) -> None:
    """The exporter's working directory is the filesystem root, ``-P`` keeps it off
    sys.path where Python has it, and no relative or state-dir PYTHONPATH entry passes."""
    calls: list[tuple[list[str], dict[str, object]]] = []

    def spawn(argv: list[str], **kwargs: object) -> object:
        calls.append((argv, kwargs))
        return None

    env = {"PYTHONPATH": os.pathsep.join(["", "relative", str(home / "x"), "/opt/lib"])}
    telemetry = Telemetry("assembly", home=home, env=env, spawn=spawn)
    with telemetry.command("x"):
        pass
    (argv, kwargs) = calls[0]
    assert kwargs["cwd"] == os.path.abspath(os.sep)
    assert ("-P" in argv) == (sys.version_info >= (3, 11))
    child_path = str(kwargs["env"]["PYTHONPATH"]).split(os.pathsep)  # type: ignore[index]
    assert child_path[1:] == ["/opt/lib"]


# --- 1b. the directory chain ---------------------------------------------------------


def test_missing_parents_are_created_private_whatever_the_umask(
    cli: Path, tmp_path: Path, reap_exporters: Path
) -> None:
    """Under ``umask 000`` every directory the library creates is 0700."""
    base = tmp_path / "a"
    home = base / "b" / "c" / "telemetry"
    result = run(cli, home, "run", preexec=lambda: os.umask(0))
    assert result.returncode == 0
    created = [base, base / "b", base / "b" / "c", home, home / "spool"]
    modes = {str(p): oct(p.stat().st_mode & 0o777) for p in created}
    assert set(modes.values()) == {"0o700"}, modes
    wait_for_exporters(home)


def test_a_parent_writable_by_others_is_refused(cli: Path, tmp_path: Path) -> None:
    """A state dir under a directory others can write is refused like an unsafe home:
    nothing written, the reason in ``status``."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    home = shared / "telemetry"
    assert run(cli, home, "run").stdout == "out run\n"
    assert not home.exists()
    status = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "trusty", "status"],
        env=env_for(home), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "disabled (unsafe_home" in status.stdout
    assert "can be written by others" in status.stdout


def test_a_root_owned_sticky_parent_is_accepted(tmp_path: Path, home: Path) -> None:
    """Like /tmp: others may add entries to a sticky root-owned directory but never rename
    or delete ours, so a state dir of ours inside it is fine."""
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    if sticky.stat().st_uid != 0:
        pytest.skip("the sticky directory must belong to root")
    assert state.ensure_dir(sticky / "telemetry").is_dir()


@needs_root
def test_a_sticky_parent_of_another_user_is_refused(tmp_path: Path) -> None:
    """Sticky is trusted only when root owns the directory."""
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    os.chown(sticky, 65534, 65534)
    with pytest.raises(state.UnsafeHomeError, match="belongs to another user"):
        state.ensure_dir(sticky / "telemetry")


@needs_root
def test_another_user_swapping_the_state_dir_gets_nothing_run(
    cli: Path, request: pytest.FixtureRequest
) -> None:
    """The attack that worked before: another user who can write a parent replaces the
    state dir with one holding a planted package. Now telemetry refuses the dir, so the
    exporter never starts there and nothing planted runs as us."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="trust-"))  # in /tmp, which the other user can reach
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    base.chmod(0o711)
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    home = shared / "telemetry"
    pwned = base / "pwned"
    pwned.mkdir()
    pwned.chmod(0o777)
    plant = (
        "import os, pathlib\n"
        "home = pathlib.Path(os.sys.argv[1])\n"
        "home.mkdir()\n"
        "(home / 'otel_cli_telemetry').mkdir()\n"
        f"(home / 'otel_cli_telemetry' / '__init__.py').write_text(\"open('{pwned}/ran', 'w')\")\n"
    )
    attacker = subprocess.run(
        [*AS_NOBODY, sys.executable, "-c", plant, str(home)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if attacker.returncode != 0:
        pytest.skip(f"cannot act as another user here: {attacker.stderr.strip()[-200:]}")
    assert home.stat().st_uid == 65534
    assert run(cli, home, "run").stdout == "out run\n"
    time.sleep(0.5)
    assert exporter_pids(home) == []
    assert not (pwned / "ran").exists()
    assert not (home / "spool").exists()


# --- 2. links are never followed ---------------------------------------------------


def test_a_linked_sink_file_is_replaced_not_appended_to(
    cli: Path, tmp_path: Path, reap_exporters: Path
) -> None:
    """``traces.jsonl`` as a link to another file: that file stays untouched; our lines
    go to a fresh regular file."""
    home = reap_exporters
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    assert run(cli, home, "first").returncode == 0
    wait_for_exporters(home)
    sink = home / "traces.jsonl"
    sink.unlink()
    sink.symlink_to(victim)
    assert run(cli, home, "second").returncode == 0
    wait_for_exporters(home)
    assert victim.read_text() == "precious\n"
    assert not sink.is_symlink()
    assert names(home) == ["trusty second"]


def test_a_linked_spool_dir_is_never_listed_or_emptied(
    cli: Path, tmp_path: Path, reap_exporters: Path
) -> None:
    """``spool/`` as a link to a directory of the user's JSON files: none of them is
    deleted or moved; the spool is rebuilt and the next trace delivered."""
    home = reap_exporters
    assert run(cli, home, "first").returncode == 0
    wait_for_exporters(home)
    victims = tmp_path / "documents"
    victims.mkdir()
    for i in range(30):
        (victims / f"{i:04d}.json").write_text('{"resourceSpans": []}' if i % 2 else "notjson")
    old = time.time() - 30 * 24 * 3600
    for path in victims.iterdir():
        os.utime(path, (old, old))
    spool = home / "spool"
    for leftover in spool.iterdir():
        leftover.unlink()
    spool.rmdir()
    spool.symlink_to(victims, target_is_directory=True)
    # The exporter's side: a drain over the linked spool lists, moves and deletes nothing.
    from otel_cli_telemetry._disk import destination
    from otel_cli_telemetry._exporter.drain import drain

    report = drain(state.Paths(home=home, config_dir=home), destination.Destination())
    assert (report.delivered, report.dropped) == (0, {})
    assert not spool.exists()  # the link itself was removed, not followed
    # The command's side: the link again, then a real command and its exporter.
    spool.symlink_to(victims, target_is_directory=True)
    assert run(cli, home, "second").returncode == 0
    wait_for_exporters(home)
    assert sorted(p.name for p in victims.iterdir()) == [f"{i:04d}.json" for i in range(30)]
    assert all(os.stat(p).st_mtime < time.time() - 3600 for p in victims.iterdir())
    assert not spool.is_symlink()
    assert "trusty second" in wait_for_names(home, 2)


def test_a_linked_quarantine_dir_loses_nothing_of_the_target(tmp_path: Path) -> None:
    """The quarantine's cap deletes only inside a directory of ours, never through a link."""
    from otel_cli_telemetry._disk import enqueue, spool

    home = state.ensure_dir(tmp_path / "home")
    victims = tmp_path / "documents"
    victims.mkdir()
    for i in range(40):
        (victims / f"{i:04d}").write_text("keep")
    (home / "quarantine").symlink_to(victims, target_is_directory=True)
    bad = Path(enqueue.write(home / "spool", b"{}"))
    spool.quarantine(spool.entries(home / "spool")[0], home / "quarantine", keep=1)
    assert len(list(victims.iterdir())) == 40
    assert (home / "quarantine" / bad.name).is_file()


def test_a_linked_spool_entry_is_quarantined_without_touching_its_target(
    tmp_path: Path,
) -> None:
    """A spool entry that is a link is moved aside as it is; its target is not read."""
    from otel_cli_telemetry._disk import destination
    from otel_cli_telemetry._exporter.drain import drain

    home = state.ensure_dir(tmp_path / "home")
    (home / "spool").mkdir(mode=0o700)
    secret = tmp_path / "secret.json"
    secret.write_text('{"resourceSpans": []}')
    name = f"{time.time_ns():020d}-1-aaaa.json"
    (home / "spool" / name).symlink_to(secret)
    paths = state.Paths(home=home, config_dir=home)
    report = drain(paths, destination.Destination())
    assert report.dropped == {"corrupt": 1}
    assert secret.read_text() == '{"resourceSpans": []}'
    assert (home / "quarantine" / name).is_symlink()


# --- 3. special files never hang or flood the host --------------------------------

SPECIALS = (
    "state.json", "config.toml", "delivery.json", "destination.json", "state.lock",
    "export.lock", "exporter.pid", "traces.jsonl",
)  # fmt: skip


@pytest.mark.parametrize("name", SPECIALS)
def test_a_fifo_in_the_state_dir_never_hangs_the_command(
    cli: Path, name: str, reap_exporters: Path
) -> None:
    """A FIFO where a state file should be: the command finishes with its own output and
    exit code, and its span is still delivered."""
    home = reap_exporters
    state.ensure_dir(home)
    os.mkfifo(home / name, 0o600)
    result = run(cli, home, "run", TRUSTY_EXIT="3")
    assert (result.returncode, result.stdout, result.stderr) == (3, "out run\n", "")
    wait_for_exporters(home)
    assert wait_for_names(home, 1) == ["trusty run"]


def test_a_config_file_linked_to_dev_zero_is_ignored_with_a_reason(cli: Path, home: Path) -> None:
    """``config.toml`` linked to /dev/zero: never read (no 2 GB host), and ``status`` says
    the file was ignored."""
    state.ensure_dir(home)
    (home / "config.toml").symlink_to("/dev/zero")
    result = run(cli, home, "run", TRUSTY_TELEMETRY_DEBUG="1")
    assert result.returncode == 0
    status = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "trusty", "status"],
        env=env_for(home), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "config.toml ignored: config.toml is not a regular file" in status.stdout


def test_a_marker_that_is_a_directory_is_taken_over(cli: Path, reap_exporters: Path) -> None:
    """``exporter.pid`` as a directory no longer stops every exporter from starting."""
    home = reap_exporters
    state.ensure_dir(home)
    (home / "exporter.pid").mkdir()
    assert run(cli, home, "run").returncode == 0
    wait_for_exporters(home)
    assert wait_for_names(home, 1) == ["trusty run"]


# --- 4. a relative home ------------------------------------------------------------


def test_a_relative_home_is_made_absolute_once(
    cli: Path, tmp_path: Path, reap_exporters: Path
) -> None:
    """``TRUSTY_TELEMETRY_HOME=relative``: resolved against the command's working
    directory, and the exporter (which runs elsewhere) delivers there."""
    assert run(cli, "relative/telemetry", "run", cwd=tmp_path).returncode == 0
    home = tmp_path / "relative" / "telemetry"
    wait_for_exporters(home)
    assert wait_for_names(home, 1) == ["trusty run"]
    assert not (home / "exporter.pid").exists()


# --- 5. a stopped exporter --------------------------------------------------------


@linux_only
def test_a_stopped_exporter_is_taken_over_past_its_deadline(
    cli: Path, reap_exporters: Path
) -> None:
    """An exporter stopped with SIGSTOP holds the marker; once past its deadline plus the
    grace period the next command ends it and a new exporter delivers everything."""
    home = reap_exporters
    paths = state.Paths(home=home, config_dir=home)
    assert run(cli, home, "first", TRUSTY_DEADLINE="1").returncode == 0
    wait_for_exporters(home)
    stopped = subprocess.Popen(
        launcher.argv(),
        # the real linger: the idle child must still hold the marker when it is stopped
        env=launcher.child_env(lingering(env_for(home)), home),
        cwd=launcher.CHILD_CWD,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        marker = coordination.marker_path(paths)
        end = time.monotonic() + 10
        while coordination.read_marker(marker).get("pid") != stopped.pid:
            assert time.monotonic() < end, "the exporter never adopted the marker"
            time.sleep(0.01)
        os.kill(stopped.pid, signal.SIGSTOP)
        for i in range(3):
            assert run(cli, home, f"queued{i}", TRUSTY_DEADLINE="1").returncode == 0
        assert len(list((home / "spool").iterdir())) == 3  # nobody may drain yet
        deadline = float(coordination.read_marker(marker)["deadline"])
        time.sleep(max(0.0, deadline + takeover.OVERDUE_GRACE_S - time.time()) + 0.2)
        assert run(cli, home, "after", TRUSTY_DEADLINE="1").returncode == 0
        assert stopped.wait(timeout=10) == -signal.SIGKILL
    finally:
        if stopped.poll() is None:
            stopped.kill()
            stopped.wait()
    wait_for_exporters(home)
    assert sorted(wait_for_names(home, 5)) == sorted(
        ["trusty first", "trusty queued0", "trusty queued1", "trusty queued2", "trusty after"]
    )
    assert delivery.load(paths.delivery_file).takeovers == 1


def test_spool_caps_hold_without_any_exporter(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caps are enforced when a trace is spooled: with no exporter ever running, the spool
    stays within its cap and the excess is counted."""
    from otel_cli_telemetry._disk import enqueue, spool

    monkeypatch.setattr(enqueue, "MAX_FILES", 5)
    telemetry = Telemetry("assembly", home=home, env={}, spawn=lambda *a, **k: None)
    for i in range(12):
        with telemetry.command(f"c{i}"):
            pass
    assert len(spool.entries(home / "spool")) == 5
    assert delivery.load(home / "delivery.json").dropped["cap_count"] == 7


# --- 7. losses on a full disk -----------------------------------------------------


def _no_file_growth() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_losses_on_a_full_disk_are_counted_and_announced(cli: Path, reap_exporters: Path) -> None:
    """Commands that cannot spool (files cannot grow) keep their output and exit code;
    the losses are written down later and announced on the next delivered span."""
    home = reap_exporters
    assert run(cli, home, "first").returncode == 0
    wait_for_exporters(home)
    for i in range(4):
        result = run(cli, home, f"lost{i}", preexec=_no_file_growth)
        assert (result.returncode, result.stdout, result.stderr) == (0, f"out lost{i}\n", "")
    assert run(cli, home, "last").returncode == 0
    wait_for_exporters(home)
    assert wait_for_names(home, 2) == ["trusty first", "trusty last"]
    last = sink_spans(home)[-1]
    attrs = {a["key"]: a["value"] for a in last["attributes"]}  # type: ignore[union-attr]
    assert attrs["cli_telemetry.dropped_traces"] == {"intValue": "4"}
    assert delivery.load(home / "delivery.json").dropped == {"spool_write_OSError": 4}
    assert not [n for n in os.listdir(home) if n.startswith(delivery.TALLY_PREFIX)]


# --- 8. fork ----------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_running_through_the_block_does_not_deliver_twice(
    cli: Path, reap_exporters: Path
) -> None:
    """Only the process that started the command span ends and spools it."""
    home = reap_exporters
    assert run(cli, home, "fork").returncode == 0
    wait_for_exporters(home)
    time.sleep(0.5)
    assert wait_for_names(home, 1) == ["trusty fork"]


# --- 9. the exporter's own failures ------------------------------------------------


def test_an_exporter_crash_is_recorded_and_shown_by_status(
    cli: Path, tmp_path: Path, reap_exporters: Path, dead_url: str
) -> None:
    """The exporter records the exception class and its step (never a message), backs
    off, and ``status`` shows it."""
    home = reap_exporters
    broken = tmp_path / "broken"
    broken.mkdir()
    # A broken installation of what the sink loads to export: zlib, for the gzip compression
    # the endpoint asks for.
    (broken / "zlib.py").write_text("raise RuntimeError('secret-ish message')\n")
    extra = {"OTEL_EXPORTER_OTLP_ENDPOINT": dead_url, "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}
    env = env_for(home, **extra)
    env["PYTHONPATH"] = f"{broken}{os.pathsep}{ROOT}"
    subprocess.run(
        [sys.executable, str(cli), "run"], env=env, timeout=30, check=True, capture_output=True
    )
    # the detached child may not have started when the CLI returns: wait for its record
    end = time.monotonic() + 20
    while delivery.load(home / "delivery.json").exporter_failure is None:
        assert time.monotonic() < end, "no exporter failure recorded"
        time.sleep(0.05)
    wait_for_exporters(home)
    failure = delivery.load(home / "delivery.json").exporter_failure
    assert failure is not None
    assert (failure["type"], failure["step"]) == ("RuntimeError", "export:otlp")
    kept = delivery.load(home / "delivery.json")
    # A back-off was set (not when it ends: a slow run, under coverage, may outlive it).
    assert kept.failures >= 1
    assert kept.next_attempt_at > kept.backoff_written_at > 0
    status = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "trusty", "status"],
        env=env_for(home, **extra), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "last exporter failure: RuntimeError during export:otlp" in status.stdout
    assert "secret-ish" not in (home / "delivery.json").read_text()


# --- 10. a closed pipe --------------------------------------------------------------


def test_status_into_a_closed_pipe_exits_quietly(home: Path) -> None:
    """``... status | head -1`` with the reader gone: no traceback on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "otel_cli_telemetry", "--service", "trusty", "status"],
            env=env_for(home), stdout=write_end, stderr=subprocess.PIPE, timeout=30,
            check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.stderr == b""
    assert result.returncode == 1


def _unix_socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # the socket file stays


def _device(path: Path) -> None:
    """A character device node (/dev/null's numbers) in our own directory; needs root."""
    null = os.stat("/dev/null")
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, null.st_rdev)
    except PermissionError:
        pytest.skip("making a device node needs root")


SPECIAL_ENTRIES = {
    "link": (lambda p: p.symlink_to(p.parent / "target"), stat.S_ISLNK),
    "fifo": (os.mkfifo, stat.S_ISFIFO),
    "dir": (Path.mkdir, stat.S_ISDIR),
    "socket": (_unix_socket, stat.S_ISSOCK),
    "device": (_device, stat.S_ISCHR),
}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX special files")
@pytest.mark.parametrize("kind", SPECIAL_ENTRIES)
def test_special_entries_are_refused_without_blocking_or_being_changed(
    tmp_path: Path, kind: str
) -> None:
    """The low-level reader refuses a symlink, FIFO (without blocking on it), directory,
    socket and device node with NotRegularFile, and leaves each as it was."""
    from otel_cli_telemetry._disk import fs as _fs

    (tmp_path / "target").write_text("x")
    make, is_kind = SPECIAL_ENTRIES[kind]
    path = tmp_path / kind
    make(path)
    with pytest.raises(_fs.NotRegularFile):
        _fs.read_bytes(path, 10)
    assert is_kind(os.lstat(path).st_mode)  # still there, still what it was
    assert (tmp_path / "target").read_text() == "x"


def test_the_systems_own_dev_null_is_refused() -> None:
    """/dev/null (a device, and root's) is refused as not a regular file of ours, where a
    plain read would have answered empty bytes."""
    from otel_cli_telemetry._disk import fs as _fs

    with pytest.raises(_fs.NotRegularFile):
        _fs.read_bytes("/dev/null", 10)


@linux_only
def test_a_marker_naming_a_process_that_does_not_hold_its_lock_ends_nobody(
    tmp_path: Path,
) -> None:
    """The pid in an overdue marker is ended only when the kernel shows that very process
    holding the marker's lock (as a holder in another pid namespace would not): here the
    named process is alive and matches every recorded detail, but someone else holds the
    lock, so it survives and no claim is made."""
    home = state.ensure_dir(tmp_path / "home")
    paths = state.Paths(home=home, config_dir=home)
    bystander = subprocess.Popen(["sleep", "60"])
    holder_code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from otel_cli_telemetry._disk import locks\n"
        "lock = locks.FileLock(Path(sys.argv[1]))\n"
        "assert lock.acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    marker = Path(coordination.marker_path(paths))
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code, str(marker)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        record = {"pid": bystander.pid, "started": 0, "deadline": 1,
                  **takeover.identity(bystander.pid)}  # fmt: skip
        marker.write_text(json.dumps(record))
        raw, inode = coordination.read_raw(marker)
        assert takeover.overdue_pid(coordination.parse_marker(raw), inode) is None
        assert not coordination.claim(paths)
        assert bystander.poll() is None
    finally:
        for process in (holder, bystander):
            process.kill()
            process.wait()
        if holder.stdout is not None:
            holder.stdout.close()
