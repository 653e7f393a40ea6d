"""The Windows and macOS branches, exercised here on Linux through their seams: the spawn
flags of a window-less detached child, ``pythonw``, ``msvcrt`` locks, platform paths, and
the resource attributes. (``mypy --platform win32/darwin`` in CI checks their types.)"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from otel_cli_telemetry._disk import fs, locks, state
from otel_cli_telemetry._process import attributes, launcher

CREATE_NO_WINDOW = 0x08000000
DETACHED_PROCESS = 0x00000008
CREATE_NEW_PROCESS_GROUP = 0x00000200


def test_windows_child_has_no_console_window() -> None:
    """On Windows the child is detached, in its own process group, with no console window
    (the flags' documented values are used where ``subprocess`` lacks them, as off Windows)."""
    flags = launcher.detach_kwargs(types.SimpleNamespace(), platform="win32")
    assert set(flags) == {"creationflags"}
    value = flags["creationflags"]
    assert value & CREATE_NO_WINDOW
    assert value & DETACHED_PROCESS
    assert value & CREATE_NEW_PROCESS_GROUP
    assert launcher.detach_kwargs(types.SimpleNamespace(), platform="linux") == {
        "start_new_session": True
    }
    assert launcher.detach_kwargs(types.SimpleNamespace(), platform="darwin") == {
        "start_new_session": True
    }


def test_windows_popen_gets_the_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The Popen path (the only one on Windows) passes those flags and no session call."""
    calls: list[tuple[list[str], dict[str, Any]]] = []

    def spawn(argv: list[str], **kwargs: Any) -> object:
        calls.append((argv, kwargs))
        return types.SimpleNamespace(pid=1234, poll=lambda: 0)

    monkeypatch.setattr(sys, "platform", "win32")
    pid = launcher._popen({"X": "1"}, spawn)
    assert pid == 1234
    [(argv, kwargs)] = calls
    assert "start_new_session" not in kwargs
    assert kwargs["creationflags"] & CREATE_NO_WINDOW
    assert kwargs["cwd"] == launcher.CHILD_CWD
    assert argv[-2:] == ["-c", launcher.ENTRY_CODE]


def test_pythonw_is_preferred_on_windows(tmp_path: Path) -> None:
    """``pythonw.exe`` (no console) beside ``python.exe`` is used when it exists."""
    python = tmp_path / "python.exe"
    python.write_text("")
    pick = launcher._console_free_python
    assert pick(platform="win32", executable=str(python)) == str(python)  # no pythonw yet
    (tmp_path / "pythonw.exe").write_text("")
    assert pick(platform="win32", executable=str(python)) == str(tmp_path / "pythonw.exe")
    assert pick(platform="linux", executable=str(python)) == str(python)
    other = str(tmp_path / "app.exe")  # an embedding host: left alone
    assert pick(platform="win32", executable=other) == other


class FakeMsvcrt(types.ModuleType):
    """``msvcrt.locking`` with Windows' semantics: a byte range locked by one handle
    cannot be locked by another until unlocked."""

    LK_NBLCK = 2
    LK_UNLCK = 0

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int], int] = {}
        self.calls: list[int] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        self.calls.append(mode)
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        if mode == self.LK_NBLCK:
            if key in self.held:
                raise OSError(36, "Resource deadlock avoided")
            self.held[key] = fd
        elif mode == self.LK_UNLCK:
            if self.held.get(key) != fd:
                raise OSError(13, "Permission denied")
            del self.held[key]


def test_msvcrt_locks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``locks``'s Windows lock branch, loaded with a fake ``msvcrt``: exclusive, released
    on release, and a second holder is refused meanwhile."""
    fake = FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setattr(sys, "platform", "win32")
    spec = importlib.util.spec_from_file_location("_locks_on_windows", locks.__file__)
    assert spec is not None
    assert spec.loader is not None
    windows_locks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(windows_locks)
    monkeypatch.setattr(sys, "platform", "linux")
    assert windows_locks._try_lock is not locks._try_lock

    path = tmp_path / "x.lock"
    first = windows_locks.FileLock(path)
    second = windows_locks.FileLock(path)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
    assert fake.calls == [fake.LK_NBLCK, fake.LK_NBLCK, fake.LK_UNLCK, fake.LK_NBLCK, 0]
    assert fake.held == {}


def test_macos_and_windows_paths_come_from_platformdirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Off Linux the state and config dirs are platformdirs' (here its macOS rules)."""
    import platformdirs
    from platformdirs.macos import MacOS

    asked: list[tuple[str, object]] = []

    def state_dir(app: str, appauthor: object = None) -> str:
        asked.append((app, appauthor))
        return MacOS(app, appauthor=appauthor).user_state_dir  # type: ignore[arg-type]

    def config_dir(app: str, appauthor: object = None) -> str:
        return MacOS(app, appauthor=appauthor).user_config_dir  # type: ignore[arg-type]

    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)  # recent platformdirs honour them on macOS
    monkeypatch.setattr(platformdirs, "user_state_dir", state_dir)
    monkeypatch.setattr(platformdirs, "user_config_dir", config_dir)
    monkeypatch.setattr(sys, "platform", "darwin")
    paths = state.resolve_paths("assembly", "ASSEMBLY", {"HOME": "/Users/someone"})
    monkeypatch.setattr(sys, "platform", "linux")
    assert asked == [("assembly", False)]
    assert "Library/Application Support/assembly" in paths.home
    assert paths.home.endswith(os.path.join("assembly", "telemetry"))
    assert os.path.isabs(paths.home)


def test_windows_skips_posix_ownership_checks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without POSIX owners and modes (Windows), the ancestor check has nothing to read:
    it passes instead of failing on ``os.getuid``."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # writable by others: refused on POSIX
    with pytest.raises(state.UnsafeHomeError):
        fs.check_ancestors(shared / "home")
    monkeypatch.setattr(fs, "_POSIX", False)
    assert fs._my_uid() is None
    fs.check_ancestors(shared / "home")


@pytest.mark.parametrize(
    ("platform_name", "expected"),
    [("win32", "windows"), ("darwin", "darwin"), ("linux", "linux"), ("freebsd14", "freebsd")],
)
def test_os_type(platform_name: str, expected: str) -> None:
    """``os_type`` maps Windows, macOS, Linux and FreeBSD platform names to their
    semantic-conventions values."""
    assert attributes.os_type(platform_name) == expected


def test_os_version_on_macos_and_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS reports the product version (14.5), Windows its build, not the kernel's."""
    import platform

    monkeypatch.setattr(platform, "mac_ver", lambda: ("14.5", ("", "", ""), "arm64"))
    monkeypatch.setattr(platform, "version", lambda: "10.0.22631")
    monkeypatch.setattr(sys, "platform", "darwin")
    mac = attributes.os_version()
    monkeypatch.setattr(sys, "platform", "win32")
    windows = attributes.os_version()
    monkeypatch.setattr(sys, "platform", "linux")
    assert (mac, windows) == ("14.5", "10.0.22631")
