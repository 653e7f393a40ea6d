"""The spool: atomic private files, oldest first, bounded, and robust to garbage."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from otel_cli_telemetry._disk import enqueue, identity, locks, spool, state

REQUEST = b'{"resourceSpans":[]}'


def test_write_is_private_and_atomic(tmp_path: Path) -> None:
    """Files are 0600 in a 0700 directory and no temporary file is left behind."""
    spool_dir = tmp_path / "home" / "spool"
    path = Path(enqueue.write(spool_dir, REQUEST))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool_dir.stat().st_mode) == 0o700
    assert [p.name for p in spool_dir.iterdir()] == [path.name]
    assert path.read_bytes() == REQUEST


def test_entries_are_oldest_first_and_skip_temporaries(tmp_path: Path) -> None:
    """Spool entries are listed oldest first, skipping temporaries and foreign files; a missing
    spool lists nothing."""
    spool_dir = tmp_path / "spool"
    first = enqueue.write(spool_dir, REQUEST)
    second = enqueue.write(spool_dir, REQUEST)
    (spool_dir / ".partial.tmp").write_bytes(b"{")
    (spool_dir / "notes.txt").write_bytes(b"x")
    assert [e.path for e in spool.entries(spool_dir)] == [first, second]
    assert spool.entries(tmp_path / "missing") == []


def test_read_rejects_non_otlp_and_quarantine_moves_it(tmp_path: Path) -> None:
    """A corrupt file is moved aside and never read again; the rest is untouched."""
    spool_dir = tmp_path / "spool"
    good = enqueue.write(spool_dir, REQUEST)
    bad_path = enqueue.write(spool_dir, b'{"resourceSpans": 7}')
    bad = next(e for e in spool.entries(spool_dir) if e.path == bad_path)
    with pytest.raises(ValueError, match="resourceSpans"):
        spool.read(bad)
    spool.quarantine(bad, tmp_path / "quarantine")
    assert [e.path for e in spool.entries(spool_dir)] == [good]
    assert (tmp_path / "quarantine" / Path(bad_path).name).exists()
    for junk in (b"\xff\xfe", b"[1,2]", b"{", b""):
        path = spool_dir / f"{'9' * 20}-1-junk{len(junk)}.json"
        path.write_bytes(junk)
    for entry in spool.entries(spool_dir):
        if entry.path != good:
            with pytest.raises(ValueError):  # noqa: PT011 - each junk fails its own way
                spool.read(entry)


def test_oversized_trace_is_refused(tmp_path: Path) -> None:
    """A trace over the spool's per-file cap is refused."""
    with pytest.raises(ValueError, match="too large"):
        enqueue.write(tmp_path / "spool", b"x" * (enqueue.MAX_FILE_BYTES + 1))


def test_caps_drop_oldest_first_and_count(tmp_path: Path) -> None:
    """Past the count, bytes or age cap the oldest files go, and the drops are counted."""
    spool_dir = tmp_path / "spool"
    paths = [enqueue.write(spool_dir, REQUEST) for _ in range(12)]
    dropped = enqueue.enforce_caps(spool_dir, max_files=10)
    assert dropped == {"count": 2}
    assert [e.path for e in spool.entries(spool_dir)] == paths[2:]
    dropped = enqueue.enforce_caps(spool_dir, max_bytes=len(REQUEST) * 4)
    assert dropped == {"bytes": 6}
    assert [e.path for e in spool.entries(spool_dir)] == paths[8:]
    far_future = spool.entries(spool_dir)[-1].created_ns + int(8 * 24 * 3600 * 1e9)
    assert enqueue.enforce_caps(spool_dir, now_ns=far_future) == {"age": 4}
    assert spool.entries(spool_dir) == []


def test_batches_are_bounded(tmp_path: Path) -> None:
    """Batches respect both the item count and the byte budget."""
    spool_dir = tmp_path / "spool"
    for _ in range(7):
        enqueue.write(spool_dir, REQUEST)
    batches = list(spool.iter_batches(spool.entries(spool_dir), max_bytes=10_000, max_items=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    batches = list(
        spool.iter_batches(spool.entries(spool_dir), max_bytes=len(REQUEST) * 2, max_items=99)
    )
    assert [len(b) for b in batches] == [2, 2, 2, 1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_spool_raises_oserror(tmp_path: Path) -> None:
    """Writing to an unwritable spool raises PermissionError for the caller to handle."""
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o500)
    with pytest.raises(PermissionError):
        enqueue.write(spool_dir, REQUEST)


def test_installation_id_is_stable_private_and_recovers_from_corruption(tmp_path: Path) -> None:
    """A UUID4 minted once, stored 0600; a corrupt state file gets a fresh id."""
    paths = state.Paths(home=tmp_path, config_dir=tmp_path)
    first = identity.installation_id(paths)
    assert first == identity.installation_id(paths)
    assert stat.S_IMODE(os.stat(paths.state_file).st_mode) == 0o600
    import uuid

    assert uuid.UUID(first).version == 4
    Path(paths.state_file).write_text("{not json")
    second = identity.installation_id(paths)
    assert second != first
    assert state.read_json(paths.state_file)["installation_id"] == second  # type: ignore[index]


def test_file_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    """A file lock excludes a second holder until it is released."""
    lock_path = tmp_path / "x.lock"
    holder = locks.FileLock(lock_path)
    assert holder.acquire()
    assert locks.is_locked(lock_path)
    assert not locks.FileLock(lock_path).acquire(timeout=0.05)
    holder.release()
    assert not locks.is_locked(lock_path)


def test_a_file_in_place_of_the_spool_dir_is_moved_aside(tmp_path: Path) -> None:
    """Works as root too: a file where the spool directory should be is removed (never
    followed or written through) and the spool created in its place."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    blocker = home / "spool"
    blocker.write_bytes(b"not a directory")
    path = enqueue.write(blocker, REQUEST)
    assert blocker.is_dir()
    assert Path(path).parent == blocker


def test_a_spool_write_into_an_unsafe_state_dir_raises(tmp_path: Path) -> None:
    """The state dir is re-checked at write time: one that others can write is refused."""
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o777)
    with pytest.raises(OSError, match="writable by group or others"):
        enqueue.write(home / "spool", REQUEST)
