"""Frozen apps (PyInstaller: ``sys.frozen``): the binary is its own exporter, started through
our runtime hook before the app's code runs, so the program's command never runs twice."""

from __future__ import annotations

import ast
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_cli_telemetry import _pyinstaller
from otel_cli_telemetry._process import config, launcher
from tests.collector import OtlpReceiver, Rotel
from tests.conftest import LINGER_ENV, ROOT, TEST_LINGER_S

RTHOOK = Path(_pyinstaller.__file__).parent / "rthooks" / "pyi_rth_otel_cli_telemetry.py"


def test_frozen_launcher_starts_the_binary_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No ``-m`` (a frozen ``sys.executable`` is the app): the binary, with the marker that
    makes our runtime hook run the exporter instead of the app."""
    assert launcher.FROZEN_EXPORTER_ENV == _pyinstaller.EXPORTER_ENV
    assert launcher.FROZEN_EXPORTER_ENV not in launcher.child_env({}, tmp_path)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launcher.argv() == [sys.executable]
    env = launcher.child_env({"PATH": "/bin", "SECRET": "x"}, tmp_path)
    assert env[launcher.FROZEN_EXPORTER_ENV] == "1"
    assert env[config.CHILD_MARKER] == "1"
    assert env["OTEL_CLI_TELEMETRY_HOME_DIR"] == str(tmp_path)
    assert "SECRET" not in env


def test_hooks_are_found_through_the_entry_point() -> None:
    """``pyinstaller40`` → ``get_hook_dirs``: the analysis hook and a runtime hook table
    whose files exist."""
    [hook_dir] = _pyinstaller.get_hook_dirs()
    assert (Path(hook_dir) / "hook-otel_cli_telemetry.py").is_file()
    table = ast.literal_eval((Path(hook_dir) / "rthooks.dat").read_text())
    assert table == {"otel_cli_telemetry": ["pyi_rth_otel_cli_telemetry.py"]}
    assert RTHOOK.is_file()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'hook-dirs = "otel_cli_telemetry._pyinstaller:get_hook_dirs"' in pyproject


_APP_AFTER_HOOK = "print('the app ran')"


@pytest.mark.parametrize("marker", ["1", ""], ids=["as-exporter", "as-app"])
def test_runtime_hook(tmp_path: Path, marker: str) -> None:
    """With the marker, the hook runs the exporter child (here: no usable home, exit 2)
    and the app's code never starts; without it, the app runs as usual."""
    code = RTHOOK.read_text() + "\n" + _APP_AFTER_HOOK
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    if marker:
        env[launcher.FROZEN_EXPORTER_ENV] = marker
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if marker:
        assert (proc.returncode, proc.stdout) == (2, "")
    else:
        assert (proc.returncode, proc.stdout) == (0, "the app ran\n")


FROZEN_APP = """
import os
import sys

from otel_cli_telemetry import Telemetry

telemetry = Telemetry("frozenapp", version="1.0")


def main():
    # Each run of the program's own code leaves a line: the exporter must not add one.
    with open(os.path.join(os.path.dirname(sys.executable), "runs.txt"), "a") as log:
        log.write("ran\\n")
    with telemetry.command("hello") as handle:
        print("hello from a frozen app")
        handle.exit_code = 3
    return 3


if __name__ == "__main__":
    sys.exit(main())
"""


def _frozen_pids(home: Path) -> list[int]:
    """Processes (a one-file binary is two) working for ``home``, from /proc (Linux)."""
    wanted = f"OTEL_CLI_TELEMETRY_HOME_DIR={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


@pytest.fixture
def frozen_home(home: Path) -> Iterator[Path]:
    yield home
    for pid in _frozen_pids(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.collector
@pytest.mark.timeout(900)
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to follow the frozen exporter")
def test_a_pyinstaller_binary_delivers_its_spans(
    pipeline: tuple[Rotel, OtlpReceiver], frozen_home: Path, tmp_path: Path
) -> None:
    """A one-file PyInstaller build of a plain app (no line of ours beyond ``Telemetry``):
    its span reaches the real collector, its output and exit code are its own, and its code
    ran exactly once although the binary was started a second time as the exporter."""
    pyinstaller = pytest.importorskip(
        "PyInstaller", reason="PyInstaller is not installed (it is in the test extra)"
    )
    del pyinstaller
    (tmp_path / "app.py").write_text(FROZEN_APP)
    build = subprocess.run(
        [
            sys.executable, "-m", "PyInstaller", "--onefile", "--noconfirm",
            "--log-level", "WARN", "--name", "frozenapp",
            "--distpath", "dist", "--workpath", "build", "--specpath", ".", "app.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=800,
        check=False,
    )  # fmt: skip
    if build.returncode != 0:
        pytest.fail(f"PyInstaller build failed:\n{build.stderr[-3000:]}")
    binary = tmp_path / "dist" / "frozenapp"
    assert binary.is_file()

    collector, receiver = pipeline
    receiver.clear()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "FROZENAPP_TELEMETRY_HOME": str(frozen_home),
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.http_endpoint,
        LINGER_ENV: TEST_LINGER_S,  # the frozen exporter leaves once its queue is empty
    }
    run = subprocess.run(
        [str(binary)], env=env, capture_output=True, timeout=120, check=False, cwd=tmp_path
    )
    assert (run.returncode, run.stdout, run.stderr) == (3, b"hello from a frozen app\n", b"")

    [span] = receiver.wait_for_spans(1, timeout=30)
    assert span.name == "frozenapp hello"
    assert span.attributes["process.exit.code"] == 3

    end = time.monotonic() + 30
    while _frozen_pids(frozen_home) and time.monotonic() < end:
        time.sleep(0.1)
    assert _frozen_pids(frozen_home) == []
    assert (tmp_path / "dist" / "runs.txt").read_text() == "ran\n"
