"""Destinations the exporter child delivers spooled traces to.

A sink has the shape of an OpenTelemetry span exporter: ``export(requests)`` returns a
``Result`` saying whether the destination accepted the batch, may accept it later
(retry, with an optional server-chosen delay), or refused it for good (drop).
"""

from __future__ import annotations

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


class Sink(Protocol):
    def export(self, requests: list[dict[str, Any]], *, timeout_s: float) -> Result:
        """Deliver OTLP JSON ``ExportTraceServiceRequest`` objects as one batch."""

    def shutdown(self) -> None: ...

    def force_flush(self, timeout_s: float = 30.0) -> bool: ...
