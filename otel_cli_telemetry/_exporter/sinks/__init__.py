"""Destinations the exporter child delivers spooled traces to, behind one small contract.

A sink has the shape of an OpenTelemetry span exporter: ``export(requests, timeout_s=)``
answers a ``Result`` and ``shutdown()`` releases its connection. The answer's status is an
``ExportResult``: OpenTelemetry's SUCCESS and FAILURE, plus the RETRY the OTLP specification
asks for (keep the batch, back off, send it again). Which answers of a server mean which is
decided here, once, for every sink: the retryable HTTP statuses and gRPC codes, and the
refusals the drain splits a batch on.
"""

from __future__ import annotations

from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, ClassVar, Protocol

#: Traces one ``export`` call carries at most, unless a sink asks for fewer.
MAX_BATCH_TRACES = 512
#: Every count this library keeps or sends saturates here (an OTLP int64).
INT64_MAX = 2**63 - 1


def saturated(value: object) -> int:
    """A count from outside (a response, a file) as an int from 0 to INT64_MAX; anything
    that is not a whole non-negative number reads as 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return min(max(value, 0), INT64_MAX)


class _Members(type):
    """Iterating ``ExportResult`` gives its members, in order, as with an ``enum.Enum``."""

    def __iter__(cls) -> Iterator[ExportResult]:
        return iter(ExportResult._members)


class ExportResult(metaclass=_Members):
    """What the destination did with a batch (OpenTelemetry's ``SpanExportResult``, plus
    RETRY). Three members compared by identity, each with a ``name`` and a ``value``, as
    an ``enum.Enum`` has (importing ``enum`` costs the child more than this whole module).
    """

    __slots__ = ("name", "value")
    _members: ClassVar[tuple[ExportResult, ...]]
    #: Accepted: the spooled files are deleted (a partial success included, never retried).
    SUCCESS: ClassVar[ExportResult]
    #: Refused for good: the files are deleted and the loss counted by reason.
    FAILURE: ClassVar[ExportResult]
    #: Not now (a timeout, a connection error, an overloaded server): kept, with a back-off.
    RETRY: ClassVar[ExportResult]

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = name.lower()

    def __repr__(self) -> str:
        return f"<ExportResult.{self.name}: {self.value!r}>"


ExportResult.SUCCESS = ExportResult("SUCCESS")
ExportResult.FAILURE = ExportResult("FAILURE")
ExportResult.RETRY = ExportResult("RETRY")
ExportResult._members = (ExportResult.SUCCESS, ExportResult.FAILURE, ExportResult.RETRY)


class Result(Record):
    """A sink's answer for one batch; build it with ``success``, ``failure`` or ``retry``.

    ``retry_after_s``: with RETRY, the delay the server asked for (``Retry-After``, gRPC
    ``RetryInfo``). ``rejected_spans``: with SUCCESS, spans the destination did not keep
    (an OTLP partial success), counted as ``partial_success_rejected_spans``; with a
    ``reason``, traces the sink left out of the batch (a Datadog log over the size limit),
    counted as ``refused_<reason>``. ``unencodable``: with FAILURE, the indexes of the
    requests that cannot be encoded at all (the rest of the batch is sent without them).
    ``split``: with FAILURE, the refusal may be one trace's fault (a malformed or too large
    request): the drain splits the batch in halves until that trace is isolated.
    """

    __slots__ = ("status", "reason", "retry_after_s", "rejected_spans", "unencodable", "split")
    status: ExportResult
    reason: str
    retry_after_s: float | None
    rejected_spans: int
    unencodable: tuple[int, ...]
    split: bool

    def __init__(
        self,
        status: ExportResult,
        reason: str = "",
        *,
        retry_after_s: float | None = None,
        rejected_spans: int = 0,
        unencodable: tuple[int, ...] = (),
        split: bool = False,
    ) -> None:
        values = (status, reason, retry_after_s, rejected_spans, unencodable, split)
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Result is frozen: cannot set {name!r}")

    @classmethod
    def success(cls, *, rejected_spans: int = 0, reason: str = "") -> Result:
        return cls(ExportResult.SUCCESS, reason, rejected_spans=saturated(rejected_spans))

    @classmethod
    def failure(
        cls, reason: str, *, unencodable: tuple[int, ...] = (), split: bool = False
    ) -> Result:
        return cls(ExportResult.FAILURE, reason, unencodable=unencodable, split=split)

    @classmethod
    def retry(cls, reason: str, *, retry_after_s: float | None = None) -> Result:
        return cls(ExportResult.RETRY, reason, retry_after_s=retry_after_s)


if TYPE_CHECKING:  # a Protocol needs ``typing`` at run time: only checkers see it

    class Sink(Protocol):
        """What the drain hands batches to (``registry.make_sink`` picks one per destination)."""

        #: How many traces one ``export`` call may carry (the drain batches by it).
        max_batch_traces: int

        def export(self, requests: list[dict[str, Any]], *, timeout_s: float) -> Result:
            """Deliver OTLP JSON ``ExportTraceServiceRequest`` objects as one batch."""

        def shutdown(self) -> None:
            """Release the connection; called once, when the drain ends."""


# --- what a server's answer means (the OTLP specification, and the intakes' documentation)

#: OTLP/HTTP: retry only these (and connection errors); any other non-2xx drops the batch.
OTLP_HTTP_RETRYABLE = frozenset({429, 502, 503, 504})
#: The Datadog logs and PostHog intakes: 408, 429 and every 5xx are worth retrying.
INTAKE_RETRYABLE = frozenset({408, 429, *range(500, 600)})
#: OTLP/gRPC: retryable codes; RESOURCE_EXHAUSTED too, but only with a ``RetryInfo`` (the
#: server says it can recover).
GRPC_RETRYABLE = frozenset(
    {"CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"}
)
GRPC_RETRYABLE_WITH_RETRY_INFO = frozenset({"RESOURCE_EXHAUSTED"})
#: Refusals of a whole batch that one trace in it may have caused (split, see ``Result``).
SPLIT_HTTP = frozenset({400, 413})
SPLIT_GRPC = frozenset({"INVALID_ARGUMENT"})


def http_result(status: int, retry_after: float | None, retryable: frozenset[int]) -> Result:
    """The answer for a non-2xx HTTP ``status``; ``retry_after``: the parsed header."""
    reason = f"http_{status}"
    if status in retryable:
        return Result.retry(reason, retry_after_s=retry_after)
    return Result.failure(reason, split=status in SPLIT_HTTP)


def grpc_result(code: str, retry_delay: float | None) -> Result:
    """The answer for a gRPC status ``code`` name other than OK; ``retry_delay``: its
    ``RetryInfo``, if it sent one."""
    reason = f"grpc_{code.lower()}"
    if code in GRPC_RETRYABLE or (
        code in GRPC_RETRYABLE_WITH_RETRY_INFO and retry_delay is not None
    ):
        return Result.retry(reason, retry_after_s=retry_delay)
    return Result.failure(reason, split=code in SPLIT_GRPC)


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
