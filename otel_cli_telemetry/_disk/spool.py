"""The spool: one OTLP JSON file per finished trace, waiting for the exporter.

Each file is a spool record (``contract``): the request and the decision that queued it.
File names sort in the order traces were queued, whatever the clock does:
``<sequence>-<time_ns>-<pid>-<random>.json``, where the sequence is the wall clock's
nanoseconds, raised past the newest name already queued (so a clock stepped back never
puts a trace before one queued earlier: a PostHog alias stays before the events that use
the account). Earlier versions' names (``<time_ns>-<pid>-<random>.json``) sort among them.
Files are written atomically, 0600, in a 0700 directory; they are parsed as JSON data only.
A file that cannot be parsed is moved to ``quarantine/`` so it never blocks the rest.
"""

import os
import time

from otel_cli_telemetry._disk import contract, jsontext, state
from otel_cli_telemetry._disk import fs as _fs
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath

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

    def __init__(self, path: str, size: int, created_ns: int) -> None:
        self.path = path
        self.size = size
        self.created_ns = created_ns

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


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


def entries(spool_dir: "StrPath") -> "list[Entry]":
    """Spooled traces, oldest first. Temporary files of writers in progress are skipped.

    A ``spool*/`` that is not a directory of ours (a link to the user's files, say) is
    moved aside, never listed; entries that are not regular files are listed, so that
    ``read`` refuses them and the drain quarantines them.
    """
    found: list[Entry] = []
    if not _fs.subdir_if_safe(spool_dir):
        return found
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
            found.append(Entry(item.path, st.st_size, created))
    found.sort(key=lambda e: e.name)
    return found


def _created_ns(name: str, fallback: int) -> int:
    """When the trace was queued: the second field of a name of four, else the first."""
    parts = name.split("-")
    head = parts[1] if len(parts) == 4 else parts[0]
    return int(head) if head.isdigit() else fallback


def read(entry: "Entry") -> "dict[str, Any]":
    """Parse one spooled trace; ValueError if it is not a well-formed OTLP JSON request."""
    return read_record(entry)[0]


def read_record(entry: "Entry") -> "tuple[dict[str, Any], dict[str, Any] | None]":
    """One spooled trace and the decision that queued it (None: an earlier version's file);
    ValueError if it is not a well-formed spool record."""
    if entry.size > MAX_FILE_BYTES:
        raise ValueError("spool file too large")
    data = state.read_json(entry.path, max_bytes=MAX_FILE_BYTES)
    if data is None:
        raise FileNotFoundError(entry.path)
    request, decision = contract.parse_spool(data)
    _check_shape(request)
    return request, decision


def _check_shape(request: "dict[str, Any]") -> None:
    """ValueError unless ``request`` has the OTLP/JSON shape every reader relies on:
    lists of objects down to the spans, and attributes as key/value objects."""

    def objects(value: object, what: str) -> "list[dict[str, Any]]":
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ValueError(f"{what} is not a list of objects")
        return value

    for resource_spans in objects(request.get("resourceSpans"), "resourceSpans") or []:
        resource = resource_spans.get("resource")
        if resource is not None:
            if not isinstance(resource, dict):
                raise ValueError("resource is not an object")
            objects(resource.get("attributes"), "resource attributes")
        for scope_spans in objects(resource_spans.get("scopeSpans"), "scopeSpans"):
            for span in objects(scope_spans.get("spans"), "spans"):
                objects(span.get("attributes"), "attributes")
    if not isinstance(request.get("resourceSpans"), list):
        raise ValueError("no resourceSpans list")


def remove(entry: "Entry") -> bool:
    """Delete a spooled trace; False if it could not be deleted (it may be sent again)."""
    try:
        os.unlink(entry.path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def quarantine(entry: "Entry", quarantine_dir: "StrPath", *, keep: int = 20) -> None:
    """Move a bad file aside (kept for inspection, capped), never to be read again.

    ``os.replace`` moves the directory entry itself: a link is moved, not followed.
    """
    try:
        _fs.ensure_subdir(quarantine_dir)
        os.replace(entry.path, os.path.join(quarantine_dir, entry.name))
    except OSError:
        if not remove(entry):
            _fs.move_aside(entry.path)
        return
    for old in sorted(_fs.scan_names(quarantine_dir))[:-keep]:
        _remove_any(os.path.join(quarantine_dir, old))


def _remove_any(path: "StrPath") -> None:
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
    while names and _created_ns(names[0], now) < oldest_allowed:
        _remove_name(spool_dir, names.pop(0))
        dropped["age"] += 1
    while len(names) > max_files:
        _remove_name(spool_dir, names.pop(0))
        dropped["count"] += 1
    if len(names) * MAX_FILE_BYTES > max_bytes:
        wanted = set(names)
        keep = [e for e in entries(spool_dir) if e.name in wanted]
        total = sum(e.size for e in keep)
        while keep and total > max_bytes:
            oldest = keep.pop(0)
            total -= oldest.size
            remove(oldest)
            dropped["bytes"] += 1
    return {k: v for k, v in dropped.items() if v}


def _remove_name(spool_dir: "StrPath", name: str) -> None:
    with _fs.suppress(FileNotFoundError):
        _remove_any(os.path.join(spool_dir, name))


def iter_batches(
    items: "list[Entry]", *, max_bytes: int, max_items: int
) -> "Iterator[list[Entry]]":
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


def dumps(request: "dict[str, Any]") -> bytes:
    text = jsontext.dumps(request, ensure_ascii=False)
    # Lone surrogates (undecodable bytes smuggled into str) become "?", not a crash.
    return text.encode("utf-8", "replace")
