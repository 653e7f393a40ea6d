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

from otel_cli_telemetry._disk import contract, state
from otel_cli_telemetry._disk import fs as _fs
from otel_cli_telemetry._disk.enqueue import MAX_FILE_BYTES, SUFFIX
from otel_cli_telemetry._disk.enqueue import created_ns as _created_ns
from otel_cli_telemetry._disk.enqueue import remove_any as _remove_any
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath


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
