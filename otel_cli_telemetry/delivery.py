"""Delivery bookkeeping that outlives one process: back-off, Retry-After, drop counts.

Kept in ``delivery.json``. The CLI process reads it before starting an exporter, so a
machine behind a firewall makes a bounded number of connection attempts however many
commands run, and a server's ``Retry-After`` is honoured across runs.
"""

from __future__ import annotations

import contextlib
import email.utils
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import state

#: First wait after a failed delivery, and the ceiling the doubling stops at.
INITIAL_BACKOFF_S = 5.0
MAX_BACKOFF_S = 300.0
#: A server may not push us further away than this, whatever its Retry-After says.
MAX_RETRY_AFTER_S = 3600.0


class DeliveryState:
    """``dropped``: lifetime counts of traces (or spans, for partial success) lost, by
    reason; ``unreported``: the part of it not yet reported on a delivered span;
    ``attempts`` and ``exporter_runs``: export requests tried and exporter children run."""

    def __init__(self) -> None:
        self.failures = 0
        self.next_attempt_at = 0.0
        self.last_error: str | None = None
        self.dropped: dict[str, int] = {}
        self.unreported: dict[str, int] = {}
        self.delivered = 0
        self.attempts = 0
        self.exporter_runs = 0

    def add_drops(self, drops: Mapping[str, int]) -> None:
        for reason, count in drops.items():
            if count > 0:
                self.dropped[reason] = self.dropped.get(reason, 0) + count
                self.unreported[reason] = self.unreported.get(reason, 0) + count

    def mark_reported(self, reported: Mapping[str, int]) -> None:
        for reason, count in reported.items():
            left = self.unreported.get(reason, 0) - count
            if left > 0:
                self.unreported[reason] = left
            else:
                self.unreported.pop(reason, None)

    def in_backoff(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.next_attempt_at

    def to_json(self) -> dict[str, Any]:
        return {
            "failures": self.failures,
            "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error,
            "dropped": dict(self.dropped),
            "unreported": dict(self.unreported),
            "delivered": self.delivered,
            "attempts": self.attempts,
            "exporter_runs": self.exporter_runs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeliveryState:
        result = cls()
        failures = data.get("failures")
        if isinstance(failures, int) and failures >= 0:
            result.failures = failures
        next_at = data.get("next_attempt_at")
        if isinstance(next_at, (int, float)) and next_at == next_at:
            # Never trust a far-future value (clock skew, corruption): cap it.
            result.next_attempt_at = min(float(next_at), time.time() + MAX_RETRY_AFTER_S)
        last = data.get("last_error")
        if isinstance(last, str):
            result.last_error = last[:200]
        result.dropped = _counts(data.get("dropped"))
        result.unreported = _counts(data.get("unreported"))
        for name in ("delivered", "attempts", "exporter_runs"):
            value = data.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                setattr(result, name, value)
        return result


def _counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {
        str(k)[:64]: v
        for k, v in list(value.items())[:64]
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0
    }


def load(path: Path) -> DeliveryState:
    """The shared state; a missing or corrupt file reads as a fresh start."""
    try:
        data = state.read_json(path)
    except (ValueError, OSError):
        return DeliveryState()
    return DeliveryState.from_json(data or {})


def update(path: Path, lock_path: Path, change: Any) -> DeliveryState:
    """Read-modify-write ``delivery.json`` under the state lock. ``change(state)`` mutates."""
    with state.FileLock(lock_path):
        current = load(path)
        change(current)
        state.write_json(path, current.to_json())
        return current


def update_quietly(path: Path, lock_path: Path, change: Any) -> None:
    """``update``, best effort: bookkeeping must never raise (a full disk, a stuck lock);
    the spool itself is the source of truth."""
    with contextlib.suppress(OSError, TimeoutError):
        update(path, lock_path, change)


def record_drops(path: Path, lock_path: Path, drops: Mapping[str, int]) -> None:
    """Count lost traces by reason."""
    if any(drops.values()):
        update_quietly(path, lock_path, lambda s: s.add_drops(drops))


def backoff_delay(
    failures: int,
    *,
    initial: float = INITIAL_BACKOFF_S,
    cap: float = MAX_BACKOFF_S,
    rng: random.Random | None = None,
) -> float:
    """Exponential back-off with jitter: a delay in ``[d/2, d]``, ``d = initial * 2^(n-1)``."""
    exponent = max(failures - 1, 0)
    delay = min(cap, initial * float(2 ** min(exponent, 30)))
    r = float((rng or random).random())
    return delay / 2 + r * delay / 2


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    current = now if now is not None else time.time()
    return min(max(when.timestamp() - current, 0.0), MAX_RETRY_AFTER_S)
