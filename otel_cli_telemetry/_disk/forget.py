"""Withdrawal and forget-me on disk: delete what waits to be sent, or everything that
identifies or describes this installation, and say what is kept and where.

Used by ``telemetry disable`` / ``local`` / ``reset`` (the CLI process, in the foreground)
and by the exporter child when consent was withdrawn under it (``drain``).
"""

from __future__ import annotations

import os

from otel_cli_telemetry._disk import contract, delivery, enqueue, inventory, locks, spool, state
from otel_cli_telemetry._disk import destination as destination_mod
from otel_cli_telemetry._disk import fs as _fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    pass

#: What earlier versions left for the exporter child: how to decide consent again.
CONSENT_FILE = contract.CONSENT_FILE
#: The page ``telemetry view`` writes (it shows what was recorded: forgotten on reset).
VIEW_FILE = "view.html"


def spool_dirs(paths: state.Paths) -> list[tuple[str, str]]:
    """Every queue directory in the state dir (``spool/``, ``spool-<id>/``) with the kind of
    destination its record names (``""`` when it has none; an earlier version's queues are
    adopted first: ``inventory.adopt_legacy``)."""
    kinds = {q.spool_dir: d.kind for q, d in inventory.recorded(paths)}
    found: list[tuple[str, str]] = []
    for name in sorted(_fs.scan_names(paths.home)) if os.path.isdir(paths.home) else []:
        if name == state.SPOOL_DIR or name.startswith(state.SPOOL_DIR + "-"):
            full = os.path.join(paths.home, name)
            found.append((full, kinds.get(full, "")))
    return found


def _spans_in(entry: spool.Entry) -> int:
    try:
        request = spool.read(entry)
    except (OSError, ValueError):
        return 0
    return sum(
        len(scope.get("spans") or [])
        for resource in request.get("resourceSpans") or []
        for scope in resource.get("scopeSpans") or []
    )


def delete_queued(paths: state.Paths, *, keep_local: bool) -> tuple[int, int]:
    """Delete every trace waiting to be sent (with ``keep_local``, those queued for the
    local file sink stay). Returns (spans, traces) deleted; a trace queued for several
    destinations (hard links) counts once."""
    seen: set[str] = set()
    spans = 0
    for directory, kind in spool_dirs(paths):
        if keep_local and kind == destination_mod.FILE:
            continue
        for entry in spool.entries(directory):
            if entry.name not in seen:
                spans += _spans_in(entry)
            if spool.remove(entry):
                seen.add(entry.name)
    return spans, len(seen)


def _remove(path: str) -> bool:
    """Unlink a file (a link is unlinked, never followed); False if missing or a directory."""
    try:
        os.unlink(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return False
    return True


def reset(paths: state.Paths) -> list[str]:
    """Forget this installation: the id and any linked account (``state.json``), every
    queue, the local file sink, the delivery state, quarantined files, what the child
    was told and the cached SDK version. Keeps the user's choice (``config.toml``).
    Returns the names removed."""
    removed: list[str] = []
    if not state.check_dir(paths.home):
        return removed
    with locks.FileLock(paths.state_lock):
        if _remove(paths.state_file):
            removed.append(state.STATE_FILE)
    spans, traces = delete_queued(paths, keep_local=False)
    if traces:
        removed.append(f"{traces} queued trace(s), {spans} span(s)")
    names = _fs.scan_names(paths.home)
    for name in sorted(names):
        full = os.path.join(paths.home, name)
        ours = name.startswith((state.SINK_FILE, "delivery", delivery.TALLY_PREFIX))
        ours = ours or name in (state.DESTINATION_FILE, state.SDK_FILE, CONSENT_FILE, VIEW_FILE)
        ours = ours or name.startswith(contract.QUEUE_FILE)
        if ours and _remove(full):
            removed.append(name)
    quarantine = paths.quarantine_dir
    for name in _fs.scan_names(quarantine):
        enqueue.remove_any(os.path.join(quarantine, name))
    with _fs.suppress(OSError):
        os.rmdir(quarantine)
    removed.extend(_remove_empty_queues(paths))
    removed.extend(_remove_free_locks(paths))
    with _fs.suppress(OSError):
        os.rmdir(paths.home)  # only when nothing is left (the choice may live here)
        removed.append(os.path.basename(paths.home) + os.sep)
    return removed


def _remove_empty_queues(paths: state.Paths) -> list[str]:
    """The emptied queue directories (``rmdir``: never follows a link, never removes what a
    command spooled meanwhile)."""
    gone: list[str] = []
    for directory, _kind in spool_dirs(paths):
        try:
            os.rmdir(directory)
        except OSError:
            continue
        gone.append(os.path.basename(directory) + os.sep)
    return gone


def _remove_free_locks(paths: state.Paths) -> list[str]:
    """``state.lock`` and every ``export*.lock`` that no process holds: each is taken (never
    waited for) and unlinked while held; one in use (a draining exporter) stays."""
    gone: list[str] = []
    for name in sorted(_fs.scan_names(paths.home)):
        if name != state.STATE_LOCK and not (name.startswith("export") and name.endswith(".lock")):
            continue
        full = os.path.join(paths.home, name)
        lock = locks.FileLock(full, create=False)
        try:
            if not lock.acquire(0.0):
                continue
        except (OSError, ValueError):  # NotRegularFile: a link, a FIFO, a directory
            if os.path.islink(full) and _remove(full):
                gone.append(name)  # the link itself, never what it points to
            continue
        try:
            if _remove(full):
                gone.append(name)
        finally:
            lock.release()
    return gone


def kept(paths: state.Paths) -> list[tuple[str, str]]:
    """What is on disk for this app now: (what it is, where), for ``status``."""
    items: list[tuple[str, str]] = []
    checks = (
        (paths.config_file, "your choice and the notice shown"),
        (paths.state_file, "the installation id (and a linked account, if any)"),
        (paths.sink_file, "the local file sink (spans recorded locally)"),
        (paths.delivery_file, "the delivery state (back-off, counts)"),
    )
    for path, what in checks:
        if os.path.isfile(path):
            items.append((what, path))
    for name in sorted(_fs.scan_names(paths.home)) if os.path.isdir(paths.home) else []:
        queue = name[len("delivery-") : -len(".json")]
        if name.startswith("delivery-") and name.endswith(".json") and queue:
            further = paths.for_queue(queue).delivery_file
            items.append((f"the delivery state of the {queue} queue", further))
    for directory, _kind in spool_dirs(paths) if os.path.isdir(paths.home) else []:
        count = len(spool.entries(directory))
        if count:
            items.append((f"{count} trace(s) waiting to be sent", directory))

    if os.path.isdir(paths.quarantine_dir) and _fs.scan_names(paths.quarantine_dir):
        items.append(("files that could not be sent (quarantine)", paths.quarantine_dir))
    return items
