"""Delivery bookkeeping that outlives one process: back-off, Retry-After, drop counts.

Kept in ``delivery.json``. The CLI process reads it before starting an exporter, so a
machine behind a firewall makes a bounded number of connection attempts however many
commands run, and a server's ``Retry-After`` is honoured across runs.
"""

import os
import time

from otel_cli_telemetry._disk import contract, retry, state
from otel_cli_telemetry._disk import fs as _fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath

MAX_RETRY_AFTER_S = contract.MAX_RETRY_AFTER_S
#: Empty files standing for losses ``delivery.json`` could not take (``tallies``).
TALLY_PREFIX = contract.TALLY_PREFIX
#: Every count kept here saturates at the largest OTLP int64.
INT64_MAX = 2**63 - 1


def _count(value: object) -> int:
    """A count read from disk or a response: an int from 0 to INT64_MAX, else 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return min(max(value, 0), INT64_MAX)


def _add(a: int, b: int) -> int:
    return min(a + b, INT64_MAX)


#: Loss reasons that count spans, not traces: spans the per-trace cap of the CLI process
#: dropped (``gate.MAX_SPANS_PER_TRACE``), spans a destination rejected in a partial success.
SPAN_REASONS = frozenset({"span_cap", "partial_success_rejected_spans"})


def traces_and_spans(counts: "Mapping[str, int]") -> tuple[int, int]:
    """Losses by reason, summed apart: (traces lost, spans lost from delivered traces)."""
    traces = sum(v for k, v in counts.items() if k not in SPAN_REASONS)
    return traces, sum(v for k, v in counts.items() if k in SPAN_REASONS)


class DeliveryState:
    """``dropped``: lifetime counts of traces (spans, for ``SPAN_REASONS``) lost, by
    reason; ``unreported``: the part of it not yet reported on a delivered span;
    ``attempts`` and ``exporter_runs``: export requests tried and exporter children run."""

    def __init__(self) -> None:
        self.failures = 0
        #: Not before this wall time; ``backoff_written_at``: the wall time it was set, so
        #: that a clock moved since (forward or back) cannot stretch it past the cap.
        self.next_attempt_at = 0.0
        self.backoff_written_at = 0.0
        self.last_error: str | None = None
        self.dropped: dict[str, int] = {}
        self.unreported: dict[str, int] = {}
        self.delivered = 0
        self.attempts = 0
        self.exporter_runs = 0
        #: Stopped exporters ended past their deadline by a later command.
        self.takeovers = 0
        #: The exporter child's last crash: exception class and step, never a payload.
        self.exporter_failure: dict[str, Any] | None = None

    def add_drops(self, drops: "Mapping[str, int]") -> None:
        for reason, count in drops.items():
            if count > 0:
                count = _count(count)
                self.dropped[reason] = _add(self.dropped.get(reason, 0), count)
                self.unreported[reason] = _add(self.unreported.get(reason, 0), count)

    def mark_reported(self, reported: "Mapping[str, int]") -> None:
        for reason, count in reported.items():
            left = self.unreported.get(reason, 0) - count
            if left > 0:
                self.unreported[reason] = left
            else:
                self.unreported.pop(reason, None)

    def set_backoff(self, wait: float, now: float) -> None:
        """Hold delivery back ``wait`` seconds (at most the cap) from ``now``, remembering
        when it was written."""
        self.next_attempt_at = now + min(max(wait, 0.0), MAX_RETRY_AFTER_S)
        self.backoff_written_at = now

    def backoff_until(self, now: float | None = None) -> float:
        """The wall time delivery may start again, clamped against a moved clock: never
        further than the back-off it was written with, nor than the cap, from ``now``;
        written "in the future" (the clock since set back) counts as written now."""
        now = time.time() if now is None else now
        return retry.backoff_until(self.next_attempt_at, self.backoff_written_at, now)

    def in_backoff(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return now < self.backoff_until(now)

    def to_json(self) -> "dict[str, Any]":
        return {
            "failures": self.failures,
            "next_attempt_at": self.next_attempt_at,
            "backoff_written_at": self.backoff_written_at,
            "last_error": self.last_error,
            "dropped": dict(self.dropped),
            "unreported": dict(self.unreported),
            "delivered": self.delivered,
            "attempts": self.attempts,
            "exporter_runs": self.exporter_runs,
            "takeovers": self.takeovers,
            "exporter_failure": self.exporter_failure,
        }

    @classmethod
    def from_json(cls, data: "Mapping[str, Any]") -> "DeliveryState":
        result = cls()
        result.failures = min(_count(data.get("failures")), 1_000_000)
        now = time.time()
        next_at = retry.finite(data.get("next_attempt_at"))
        written = retry.finite(data.get("backoff_written_at"))
        if next_at is not None and next_at > 0:
            result.next_attempt_at = next_at
            result.backoff_written_at = written if written is not None and written > 0 else 0.0
            # Never trust a far-future value (a moved clock, corruption): clamp it, once
            # here and again whenever it is asked (``backoff_until``).
            result.next_attempt_at = result.backoff_until(now)
            if result.backoff_written_at <= 0 or result.backoff_written_at > now:
                result.backoff_written_at = now
        last = data.get("last_error")
        if isinstance(last, str):
            result.last_error = last[:200]
        result.dropped = _counts(data.get("dropped"))
        result.unreported = _counts(data.get("unreported"))
        failure = data.get("exporter_failure")
        if isinstance(failure, dict):
            result.exporter_failure = {
                k: (v[:100] if isinstance(v, str) else v)
                for k, v in failure.items()
                if k in ("type", "step", "at") and isinstance(v, (str, int, float))
            }
        for name in ("delivered", "attempts", "exporter_runs", "takeovers"):
            setattr(result, name, _count(data.get(name)))
        return result


def _counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {
        str(k)[:64]: _count(v)
        for k, v in list(value.items())[:64]
        if isinstance(v, int) and not isinstance(v, bool) and v > 0
    }


def load(path: "StrPath", *, with_tallies: bool = False) -> "DeliveryState":
    """The shared state; a missing or corrupt file reads as a fresh start. With
    ``with_tallies`` (``status``), losses still waiting as tally files count too."""
    try:
        data = state.read_json(path)
    except (ValueError, OSError):
        data = None
    loaded = DeliveryState.from_json(data or {})
    if with_tallies:
        from otel_cli_telemetry._disk import tallies  # ``status`` only

        loaded.add_drops(tallies.counted(tallies.find(path)))
    return loaded


#: Losses this process could not write down yet, by delivery file (a full disk): written
#: with the next update of that file that succeeds, in this process or, through the
#: tally files below, in any other.
_unwritten: dict[str, dict[str, int]] = {}


def update(path: "StrPath", lock_path: "StrPath", change: "Any") -> "DeliveryState":
    """Read-modify-write ``delivery.json`` under the state lock. ``change(state)`` mutates.

    Losses recorded earlier that could not be written then are folded in on the way.
    """
    from otel_cli_telemetry._disk import locks, tallies  # only when writing

    with locks.FileLock(lock_path):
        current = load(path)
        change(current)
        pending = _unwritten.pop(str(path), {})
        waiting = tallies.find(path)
        current.add_drops(pending)
        current.add_drops(tallies.counted(waiting))
        try:
            state.write_json(path, current.to_json())
        except BaseException:
            if pending:
                _keep_in_memory(path, pending)
            raise
        for name, _ in waiting:
            with _fs.suppress(OSError):
                os.unlink(os.path.join(os.path.dirname(path), name))
        return current


def update_quietly(path: "StrPath", lock_path: "StrPath", change: "Any") -> bool:
    """``update``, best effort: bookkeeping must never raise (a full disk, a stuck lock,
    a corrupt lock file); the spool itself is the source of truth. True if written."""
    try:
        update(path, lock_path, change)
    except (OSError, TimeoutError, ValueError):
        return False
    return True


def _keep_in_memory(path: "StrPath", drops: "Mapping[str, int]") -> None:
    mine = _unwritten.setdefault(str(path), {})
    for reason, count in drops.items():
        mine[reason] = mine.get(reason, 0) + count


def record_drops(
    path: "StrPath", lock_path: "StrPath", drops: "Mapping[str, int]", *, takeovers: int = 0
) -> None:
    """Count lost traces by reason. Never loses the count silently: if ``delivery.json``
    cannot be written now, the losses wait in memory and as empty tally files."""
    drops = {k: v for k, v in drops.items() if v > 0}
    if not drops and not takeovers:
        return

    def change(s: "DeliveryState") -> None:
        s.add_drops(drops)
        s.takeovers = _add(s.takeovers, _count(takeovers))

    if update_quietly(path, lock_path, change) or not drops:
        return
    _keep_in_memory(path, drops)
    from otel_cli_telemetry._disk import tallies  # only when the disk refused the count

    mine = _unwritten[str(path)]
    for reason, count in drops.items():
        if not tallies.write(path, reason, count):
            return
        # Counted on disk now: not again from memory.
        mine[reason] -= count
        if mine[reason] <= 0:
            del mine[reason]


def record_failure(
    path: "StrPath", lock_path: "StrPath", error: "BaseException | str", step: str
) -> None:
    """The exporter child's failure (an exception, or the name of what went wrong), for
    ``status``: its class and the step only (a message could quote a payload or a header).
    It starts a back-off, as a failed delivery does: no exporter starts per command while
    it holds, and the next one tries again after it."""
    name = error if isinstance(error, str) else error.__class__.__name__
    now = time.time()
    failure = {"type": name[:100], "step": step[:100], "at": int(now)}

    def change(s: "DeliveryState") -> None:
        s.exporter_failure = failure
        s.failures = min(s.failures + 1, 1_000_000)
        s.last_error = f"exporter:{name}"[:200]
        wait = retry.backoff_delay(s.failures)
        s.set_backoff(max(wait, s.backoff_until(now) - now), now)

    update_quietly(path, lock_path, change)


def __getattr__(name: str) -> "Any":
    """The back-off arithmetic (``backoff_delay``, ``parse_retry_after``, the waits), from
    ``retry``."""
    return getattr(retry, name)
