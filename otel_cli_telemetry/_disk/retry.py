"""How long to wait before trying a destination again: exponential back-off with jitter,
and a server's ``Retry-After``, both bounded. Used by the exporter child; the waits are
kept in ``delivery.json``."""

import time

from otel_cli_telemetry._disk.contract import MAX_RETRY_AFTER_S

TYPE_CHECKING = False
if TYPE_CHECKING:
    import random

__all__ = [
    "INITIAL_BACKOFF_S",
    "MAX_BACKOFF_S",
    "MAX_RETRY_AFTER_S",
    "backoff_delay",
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
