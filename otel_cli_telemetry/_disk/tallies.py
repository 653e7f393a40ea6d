"""Loss tallies: an empty file per loss that could not be counted in ``delivery.json``.

Creating an empty file needs no data block, so it often works on a full disk (and under
RLIMIT_FSIZE); the next update of ``delivery.json`` that succeeds folds them in and
removes them. Loaded only when a count could not be written, or by ``status``.
"""

import os
import time

from otel_cli_telemetry._disk.contract import TALLY_PREFIX

TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._disk.fs import StrPath


def _stem(path: "StrPath") -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _safe_reason(reason: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in reason)[:64] or "unknown"


def find(path: "StrPath") -> list[tuple[str, str]]:
    """(file name, reason) of the loss tallies waiting for the delivery file ``path``."""
    head = f"{TALLY_PREFIX}{_stem(path)}~"
    found: list[tuple[str, str]] = []
    try:
        names = os.listdir(os.path.dirname(path))  # the state dir, checked by our caller
    except OSError:
        return found
    for name in names:
        if name.startswith(head):
            reason = name[len(head) :].split("~", 1)[0]
            if reason:
                found.append((name, reason))
    return found


def counted(tallies: "list[tuple[str, str]]") -> dict[str, int]:
    """The losses the tally files stand for, by reason (one file, one loss)."""
    counts: dict[str, int] = {}
    for name, reason in tallies:
        # ``...-x<n>`` stands for n losses (a span count can be large), else one.
        tail = name.rsplit("-x", 1)
        n = int(tail[1][:18]) if len(tail) == 2 and tail[1].isdigit() else 1
        counts[reason] = counts.get(reason, 0) + n
    return counts


def write(path: "StrPath", reason: str, count: int) -> bool:
    """Leave a tally standing for ``count`` losses of ``reason`` beside the delivery file
    ``path``; False if even that failed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    head = f"{TALLY_PREFIX}{_stem(path)}~{_safe_reason(reason)}~{time.time_ns()}-{os.getpid()}"
    try:
        tally = os.path.join(os.path.dirname(path), f"{head}-x{count}")
        os.close(os.open(tally, flags, 0o600))
    except OSError:
        return False
    return True
