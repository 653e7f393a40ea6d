"""The spool: one OTLP JSON file per finished trace, waiting for the exporter.

File names sort by creation time (``<time_ns>-<pid>-<random>.json``), so the oldest is
sent and, past a cap, dropped first. Files are written atomically, 0600, in a 0700
directory; they are parsed as JSON data only. A file that cannot be parsed is moved to
``quarantine/`` so it never blocks the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import state
from ._record import Record

SUFFIX = ".json"
#: Defaults, documented in the README: 1000 files, 20 MB, 7 days.
MAX_FILES = 1000
MAX_BYTES = 20 * 1024 * 1024
MAX_AGE_S = 7 * 24 * 3600
#: One trace larger than this is not spooled (span limits keep real ones far smaller).
MAX_FILE_BYTES = 1024 * 1024


class Entry(Record):
    """One spooled trace."""

    __slots__ = ("path", "size", "created_ns")

    def __init__(self, path: Path, size: int, created_ns: int) -> None:
        self.path = path
        self.size = size
        self.created_ns = created_ns

    @property
    def name(self) -> str:
        return self.path.name


def write(spool_dir: Path, payload: bytes) -> Path:
    """Add one trace to the spool; raises OSError (disk full, unwritable) to the caller."""
    if len(payload) > MAX_FILE_BYTES:
        raise ValueError("trace too large to spool")
    state.ensure_dir(spool_dir)
    name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
    path = spool_dir / name
    state.atomic_write(path, payload)
    return path


def link(path: Path, spool_dir: Path) -> Path:
    """Queue an already spooled trace for another destination (hard link, copy if not)."""
    state.ensure_dir(spool_dir)
    target = spool_dir / path.name
    try:
        os.link(path, target)
    except FileExistsError:
        pass
    except OSError:
        state.atomic_write(target, path.read_bytes())
    return target


def entries(spool_dir: Path) -> list[Entry]:
    """Spooled traces, oldest first. Temporary files of writers in progress are skipped."""
    found: list[Entry] = []
    try:
        scan = os.scandir(spool_dir)
    except (FileNotFoundError, NotADirectoryError):
        return found
    with scan:
        for item in scan:
            if not item.name.endswith(SUFFIX) or item.name.startswith("."):
                continue
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue
            created = _created_ns(item.name, st.st_mtime_ns)
            found.append(Entry(Path(item.path), st.st_size, created))
    found.sort(key=lambda e: e.name)
    return found


def _created_ns(name: str, fallback: int) -> int:
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else fallback


def read(entry: Entry) -> dict[str, Any]:
    """Parse one spooled trace; ValueError if it is not a well-formed OTLP JSON request."""
    if entry.size > MAX_FILE_BYTES:
        raise ValueError("spool file too large")
    data = state.read_json(entry.path, max_bytes=MAX_FILE_BYTES)
    if data is None:
        raise FileNotFoundError(entry.path)
    resource_spans = data.get("resourceSpans")
    if not isinstance(resource_spans, list):
        raise ValueError("no resourceSpans list")
    return data


def remove(entry: Entry) -> bool:
    """Delete a spooled trace; False if it could not be deleted (it may be sent again)."""
    try:
        entry.path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def quarantine(entry: Entry, quarantine_dir: Path, *, keep: int = 20) -> None:
    """Move a bad file aside (kept for inspection, capped), never to be read again."""
    try:
        state.ensure_dir(quarantine_dir)
        os.replace(entry.path, quarantine_dir / entry.name)
    except OSError:
        remove(entry)
        return
    kept = sorted(quarantine_dir.iterdir())
    for old in kept[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()


def enforce_caps(
    spool_dir: Path,
    *,
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_BYTES,
    max_age_s: float = MAX_AGE_S,
    now_ns: int | None = None,
) -> dict[str, int]:
    """Drop the oldest files past any cap; return how many were dropped, by reason."""
    now = now_ns if now_ns is not None else time.time_ns()
    current = entries(spool_dir)
    dropped = {"age": 0, "count": 0, "bytes": 0}
    keep: list[Entry] = []
    for entry in current:
        if now - entry.created_ns > max_age_s * 1e9:
            remove(entry)
            dropped["age"] += 1
        else:
            keep.append(entry)
    while len(keep) > max_files:
        remove(keep.pop(0))
        dropped["count"] += 1
    total = sum(e.size for e in keep)
    while keep and total > max_bytes:
        oldest = keep.pop(0)
        total -= oldest.size
        remove(oldest)
        dropped["bytes"] += 1
    return {k: v for k, v in dropped.items() if v}


def iter_batches(items: list[Entry], *, max_bytes: int, max_items: int) -> Iterator[list[Entry]]:
    """Group entries, oldest first, into batches bounded by bytes and count."""
    batch: list[Entry] = []
    size = 0
    for entry in items:
        if batch and (size + entry.size > max_bytes or len(batch) >= max_items):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch


def dumps(request: dict[str, Any]) -> bytes:
    text = json.dumps(request, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # Lone surrogates (undecodable bytes smuggled into str) become "?", not a crash.
    return text.encode("utf-8", "replace")
