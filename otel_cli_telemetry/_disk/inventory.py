"""Every queue in a state dir, with the destination recorded for it; an earlier version's
queues (``destination.json``) are adopted on the way. For the exporter child and the admin
commands: a command only writes its own queue (``destination.queues``, ``save``)."""

import os

from otel_cli_telemetry._disk import contract, destination, fs, state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._disk.fs import StrPath


def recorded(paths: "state.Paths") -> "list[tuple[state.Paths, destination.Destination]]":
    """Every queue in the state dir with the destination it was recorded for (``spool/``
    first); queues of an earlier version are adopted first (``adopt_legacy``). A ``spool/``
    without a record is the local file sink's, with its defaults."""
    adopt_legacy(paths)
    found: list[tuple[state.Paths, destination.Destination]] = []
    names = _scan(paths.home)
    for name in sorted(names):
        if not name.endswith(".json"):
            continue
        stem = name[: -len(".json")]
        if stem == contract.QUEUE_FILE:
            queue = ""
        elif stem.startswith(contract.QUEUE_FILE + "-"):
            queue = stem[len(contract.QUEUE_FILE) + 1 :]
        else:
            continue
        dest = destination.load_queue(paths.for_queue(queue))
        if dest is not None:
            found.append((paths.for_queue(queue), dest))
    if not any(q.queue == "" for q, _ in found) and state.SPOOL_DIR in names:
        found.append((paths.for_queue(""), destination.Destination()))
    found.sort(key=lambda item: item[0].queue != "")
    return found


def _scan(home: str) -> "set[str]":
    return set(fs.scan_names(home)) if os.path.isdir(home) else set()


def load(path: "StrPath") -> "list[destination.Destination]":
    """The destinations an earlier version's ``destination.json`` names; the local file
    sink if none or unreadable."""
    try:
        data = state.read_json(path)
    except (ValueError, OSError):
        return [destination.Destination()]
    if not data:
        return [destination.Destination()]
    items = data.get("destinations")
    if not isinstance(items, list):
        items = [data]  # one destination, as written by even earlier versions
    result: list[destination.Destination] = []
    for item in items[:4]:
        try:
            if isinstance(item, dict):
                result.append(destination.Destination.from_json(item))
        except (ValueError, TypeError):
            continue
    return result or [destination.Destination()]


def adopt_legacy(paths: "state.Paths") -> None:
    """Upgrade an earlier version's queues, losing nothing: it kept the first destination's
    traces in ``spool/`` and each further one's in ``spool-<kind>/``, all described by
    ``destination.json``. ``spool/`` gets the record of the first; the traces of
    ``spool-<kind>/`` (bare requests, no decision record) move to their destination's queue;
    then ``destination.json`` goes. Under the state lock; best effort (retried next time)."""
    legacy = paths.destination_file
    if not os.path.lexists(legacy):
        return
    from otel_cli_telemetry._disk import enqueue, locks, spool

    try:
        with locks.FileLock(paths.state_lock):
            if not os.path.lexists(legacy):
                return
            for index, dest in enumerate(load(legacy)):
                if index == 0:
                    if destination.queue_record(paths.for_queue("")) is None:
                        destination.save(paths.for_queue(""), dest)
                    continue
                old = paths.for_queue(dest.kind)
                new = paths.for_queue(destination.queue_name(paths, dest))
                destination.save(new, dest)
                if old.queue == new.queue:
                    continue
                for entry in spool.entries(old.spool_dir):
                    enqueue.ensure(new.spool_dir)
                    os.replace(entry.path, os.path.join(new.spool_dir, entry.name))
                with fs.suppress(OSError):
                    os.rmdir(old.spool_dir)
            os.unlink(legacy)
    except (OSError, ValueError, TimeoutError):
        return
