"""How long to wait before trying a destination again: exponential back-off with jitter,
and a server's ``Retry-After``, both bounded, and whether a wait kept in ``delivery.json``
still holds (``in_backoff``: what a command asks before it starts an exporter, without
loading the rest of the bookkeeping, ``delivery``)."""

import time

from otel_cli_telemetry._disk import state
from otel_cli_telemetry._disk.contract import MAX_RETRY_AFTER_S

TYPE_CHECKING = False
if TYPE_CHECKING:
    import random

    from otel_cli_telemetry._disk.fs import StrPath

__all__ = [
    "INITIAL_BACKOFF_S",
    "MAX_BACKOFF_S",
    "MAX_RETRY_AFTER_S",
    "backoff_delay",
    "backoff_until",
    "in_backoff",
    "parse_retry_after",
]

#: First wait after a failed delivery, and the ceiling the doubling stops at.
INITIAL_BACKOFF_S = 5.0
MAX_BACKOFF_S = 300.0


def backoff_delay(
    failures: int,
    *,
    initial: float = INITIAL_BACKOFF_S,
    cap: float = MAX_BACKOFF_S,
    rng: "random.Random | None" = None,
) -> float:
    """Exponential back-off with jitter: a delay in ``[d/2, d]``, ``d = initial * 2^(n-1)``."""
    exponent = max(failures - 1, 0)
    delay = min(cap, initial * float(2 ** min(exponent, 30)))
    if rng is None:
        import random  # only when a delivery failed

        r = random.random()  # noqa: S311 - jitter, not a secret
    else:
        r = rng.random()
    return delay / 2 + float(r) * delay / 2


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
        import email.utils  # only for a Retry-After that is an HTTP date

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    current = now if now is not None else time.time()
    return min(max(when.timestamp() - current, 0.0), MAX_RETRY_AFTER_S)


def finite(value: object) -> float | None:
    """A number read from disk, unless it is not one, NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if number - number == 0.0 else None


def backoff_until(next_at: float, written: float, now: float) -> float:
    """The wall time delivery may start again, clamped against a moved clock: never
    further than the back-off it was written with (``next_at - written``), nor than the
    cap, from ``now``; written "in the future" (the clock since set back) counts as now."""
    if next_at <= 0:
        return 0.0
    length = next_at - written if written > 0 else MAX_RETRY_AFTER_S
    length = min(max(length, 0.0), MAX_RETRY_AFTER_S)
    if written <= 0 or written > now:
        written = now
    return min(next_at, written + length, now + MAX_RETRY_AFTER_S)


def in_backoff(delivery_file: "StrPath", now: float | None = None) -> bool:
    """``delivery.load(delivery_file).in_backoff(now)``: the back-off fields alone, read as
    ``DeliveryState.from_json`` reads them (clamped once at the wall time, then at ``now``);
    a missing or corrupt file holds nothing back."""
    try:
        data = state.read_json(delivery_file) or {}
    except (ValueError, OSError):
        return False
    next_at, written = finite(data.get("next_attempt_at")), finite(data.get("backoff_written_at"))
    if next_at is None or next_at <= 0:
        return False
    wall = time.time()
    written = written if written is not None and written > 0 else 0.0
    next_at = backoff_until(next_at, written, wall)
    if written <= 0 or written > wall:
        written = wall
    now = wall if now is None else now
    return now < backoff_until(next_at, written, now)
