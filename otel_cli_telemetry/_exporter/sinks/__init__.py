"""Destinations the exporter child delivers spooled traces to.

A sink has the shape of an OpenTelemetry span exporter: ``export(requests)`` returns a
``Result`` saying whether the destination accepted the batch, may accept it later
(retry, with an optional server-chosen delay), or refused it for good (drop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

ACCEPTED = "accepted"
RETRY = "retry"
DROP = "drop"


@dataclass(frozen=True)
class Result:
    status: str
    reason: str = ""
    retry_after_s: float | None = None
    #: Spans the destination accepted but reported as rejected (OTLP partial success).
    rejected_spans: int = 0
    #: With DROP: the indexes of the requests that could not be encoded at all; the rest
    #: of the batch is fine and is sent without them.
    unencodable: tuple[int, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


def convert_each(
    requests: list[dict[str, Any]], convert: Callable[[dict[str, Any]], list[Any]]
) -> tuple[list[Any], tuple[int, ...]]:
    """Convert every request of a batch on its own: the converted items in order, and the
    indexes of the requests the conversion rejected (whatever it raised), so that one bad
    spool file is set aside instead of blocking the queue behind it."""
    items: list[Any] = []
    bad: list[int] = []
    for index, request in enumerate(requests):
        try:
            items.extend(convert(request))
        except Exception:  # noqa: BLE001 - any failure of this data is this request's own
            bad.append(index)
    return items, tuple(bad)


class Sink(Protocol):
    def export(self, requests: list[dict[str, Any]], *, timeout_s: float) -> Result:
        """Deliver OTLP JSON ``ExportTraceServiceRequest`` objects as one batch."""

    def shutdown(self) -> None: ...

    def force_flush(self, timeout_s: float = 30.0) -> bool: ...
