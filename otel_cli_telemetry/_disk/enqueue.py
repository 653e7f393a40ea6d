"""Adding a finished trace to the spool: what every recorded command does (``spool`` lists,
reads and drains it, and re-exports what is here).

Each file is a spool record (``contract``) named ``<sequence>-<time_ns>-<pid>-<random>.json``,
the sequence raised past the newest name already queued (see ``spool``); written
atomically, 0600, in a 0700 directory. The caps (files, bytes, age) hold at every write,
whether or not an exporter runs.
"""

import os
import time

from otel_cli_telemetry._disk import contract, jsontext, state
from otel_cli_telemetry._disk import fs as _fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath

SUFFIX = ".json"
#: Defaults, documented in the README: 1000 files, 20 MB, 7 days.
MAX_FILES = 1000
MAX_BYTES = 20 * 1024 * 1024
MAX_AGE_S = 7 * 24 * 3600
#: One trace larger than this is not spooled (span limits keep real ones far smaller).
MAX_FILE_BYTES = 1024 * 1024


def ensure(spool_dir: "StrPath") -> "StrPath":
    """Check the state dir (where it is used, not once) and its ``spool*/`` directory."""
    state.ensure_dir(os.path.dirname(os.fspath(spool_dir)))
    return _fs.ensure_subdir(spool_dir)


def write(
    spool_dir: "StrPath",
    payload: bytes,
    *,
    decision: "Mapping[str, Any] | None" = None,
    after: "Iterable[StrPath]" = (),
    clock: "Callable[[], int]" = time.time_ns,
) -> str:
    """Add one trace (``payload``: its encoded request) to the spool, in a record carrying
    ``decision`` (``contract.decision_record``; None writes the bare request, as earlier
    versions did); named after every trace already in ``spool_dir`` and in the queues of
    ``after`` (where it will be linked). Raises OSError (disk full, unwritable, an unsafe
    state dir) to the caller, who then calls ``enforce_caps``: caps hold even while no
    exporter runs (backing off, or one stopped)."""
    if decision is not None:
        payload = contract.spool_record(decision, payload, jsontext.dumps)
    if len(payload) > MAX_FILE_BYTES:
        raise ValueError("trace too large to spool")
    ensure(spool_dir)
    now = clock()
    sequence = max([now, *(_sequence(d) + 1 for d in (spool_dir, *after))])
    name = f"{sequence:020d}-{now:020d}-{os.getpid()}-{os.urandom(4).hex()}{SUFFIX}"
    path = os.path.join(spool_dir, name)
    state.atomic_write(path, payload)
    return path


def _sequence(spool_dir: "StrPath") -> int:
    """The sequence of the newest name queued in ``spool_dir`` (0 if none)."""
    names = [n for n in _fs.scan_names(spool_dir) if n.endswith(SUFFIX) and n[0] != "."]
    head = max(names, default="0").split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def link(path: "StrPath", spool_dir: "StrPath") -> str:
    """Queue an already spooled trace for another destination (hard link, copy if not)."""
    _fs.ensure_subdir(spool_dir)
    target = os.path.join(spool_dir, os.path.basename(path))
    try:
        os.link(path, target, follow_symlinks=False)
    except FileExistsError:
        pass
    except (OSError, NotImplementedError):
        state.atomic_write(target, _fs.read_bytes(path, MAX_FILE_BYTES))
    return target


def created_ns(name: str, fallback: int) -> int:
    """When the trace was queued: the second field of a name of four, else the first."""
    parts = name.split("-")
    head = parts[1] if len(parts) == 4 else parts[0]
    return int(head) if head.isdigit() else fallback


def remove_any(path: "StrPath") -> None:
    """Delete a quarantined entry without following it (a directory only where the
    platform's rmtree resists link attacks)."""
    import shutil
    import stat

    with _fs.suppress(OSError):
        if stat.S_ISDIR(os.lstat(path).st_mode):
            if shutil.rmtree.avoids_symlink_attacks:
                shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def enforce_caps(
    spool_dir: "StrPath",
    *,
    max_files: int | None = None,
    max_bytes: int | None = None,
    max_age_s: float | None = None,
    now_ns: int | None = None,
) -> dict[str, int]:
    """Drop the oldest files past any cap; return how many were dropped, by reason.

    Cheap enough for every spool write: names carry the creation time, and sizes are
    only looked at when enough files exist to pass the byte cap.
    """
    max_files = MAX_FILES if max_files is None else max_files
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    max_age_s = MAX_AGE_S if max_age_s is None else max_age_s
    now = now_ns if now_ns is not None else time.time_ns()
    names = sorted(n for n in _fs.scan_names(spool_dir) if n.endswith(SUFFIX) and n[0] != ".")
    dropped = {"age": 0, "count": 0, "bytes": 0}
    oldest_allowed = now - max_age_s * 1e9
    while names and created_ns(names[0], now) < oldest_allowed:
        _remove_name(spool_dir, names.pop(0))
        dropped["age"] += 1
    while len(names) > max_files:
        _remove_name(spool_dir, names.pop(0))
        dropped["count"] += 1
    if len(names) * MAX_FILE_BYTES > max_bytes:
        keep = _sizes(spool_dir, names)
        total = sum(size for _, size in keep)
        while keep and total > max_bytes:
            name, size = keep.pop(0)
            total -= size
            with _fs.suppress(OSError):
                os.unlink(os.path.join(spool_dir, name))
            dropped["bytes"] += 1
    return {k: v for k, v in dropped.items() if v}


def _sizes(spool_dir: "StrPath", names: "list[str]") -> "list[tuple[str, int]]":
    """(name, size) of each of ``names`` still in ``spool_dir`` (not followed), in order."""
    found = []
    for name in names:
        try:
            found.append((name, os.lstat(os.path.join(spool_dir, name)).st_size))
        except OSError:
            continue
    return found


def _remove_name(spool_dir: "StrPath", name: str) -> None:
    with _fs.suppress(FileNotFoundError):
        remove_any(os.path.join(spool_dir, name))


def dumps(request: "dict[str, Any]") -> bytes:
    text = jsontext.dumps(request, ensure_ascii=False)
    # Lone surrogates (undecodable bytes smuggled into str) become "?", not a crash.
    return text.encode("utf-8", "replace")
