"""The public, immutable records the admin methods of ``Telemetry`` return.

>>> report = telemetry.flush()
>>> report.delivered, dict(report.dropped)

Loaded only when such a method runs (never on a command's path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Protocol

    from otel_cli_telemetry._disk import state
    from otel_cli_telemetry._disk.consent import Decision
    from otel_cli_telemetry._disk.destination import Destination

    class Report(Protocol):
        """What a drain reports (the exporter's working report, named by its shape: the
        public face does not import the exporter)."""

        delivered: int
        remaining: int
        attempts: int
        locked_out: bool
        backing_off: bool
        last_error: str | None

        @property
        def dropped(self) -> Mapping[str, int]: ...


__all__ = ["Change", "FlushReport", "Paths", "QueueStatus", "ResolvedDestination"]


def _frozen(values: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class FlushReport:
    """What ``Telemetry.flush`` did: traces delivered, dropped (by reason), still waiting;
    requests made; whether another exporter held a queue or a back-off held it; the last
    error (a short reason, no secret)."""

    delivered: int = 0
    dropped: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    remaining: int = 0
    attempts: int = 0
    locked_out: bool = False
    backing_off: bool = False
    last_error: str | None = None

    @classmethod
    def of(cls, report: Report) -> FlushReport:
        """The exporter's working report, as a record."""
        return cls(
            delivered=report.delivered,
            dropped=_frozen(report.dropped),
            remaining=report.remaining,
            attempts=report.attempts,
            locked_out=report.locked_out,
            backing_off=report.backing_off,
            last_error=report.last_error,
        )


@dataclass(frozen=True)
class Change:
    """A choice the user just made (``disable``, ``local``): the decision now in force and
    what it deleted (the spans and traces that were waiting to be sent)."""

    enabled: bool
    rule: str
    detail: str
    mode: str
    deleted_spans: int = 0
    deleted_traces: int = 0

    @classmethod
    def of(cls, decision: Decision, *, deleted_spans: int, deleted_traces: int) -> Change:
        return cls(
            decision.enabled, decision.rule, decision.detail, decision.mode,
            deleted_spans, deleted_traces,
        )  # fmt: skip

    def __bool__(self) -> bool:
        return self.enabled

    @property
    def local_only(self) -> bool:
        return self.mode == "local"


@dataclass(frozen=True)
class QueueStatus:
    """One destination's queue, as ``Telemetry.status`` reports it: the destination it was
    recorded for (described without secrets), the traces waiting, and its delivery record
    (``delivery``: every count ``delivery.json`` keeps, read-only)."""

    destination: str
    waiting: int = 0
    delivered: int = 0
    failures: int = 0
    last_error: str | None = None
    dropped: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    delivery: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, destination: str, waiting: int, delivery: Mapping[str, Any]) -> QueueStatus:
        dropped = delivery.get("dropped")
        last_error = delivery.get("last_error")
        return cls(
            destination=destination,
            waiting=waiting,
            delivered=_count(delivery.get("delivered")),
            failures=_count(delivery.get("failures")),
            last_error=last_error if isinstance(last_error, str) else None,
            dropped=_frozen(
                {k: _count(v) for k, v in dropped.items()} if isinstance(dropped, dict) else {}
            ),
            delivery=MappingProxyType(dict(delivery)),
        )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class Paths:
    """Where an app keeps its files for the current user (``Telemetry.paths``): the state
    directory, the config directory and file, the first queue, the local file sink."""

    home: str
    config_dir: str
    config_file: str
    spool_dir: str
    sink_file: str

    @classmethod
    def of(cls, paths: state.Paths) -> Paths:
        return cls(
            paths.home, paths.config_dir, paths.config_file, paths.spool_dir, paths.sink_file
        )


@dataclass(frozen=True)
class ResolvedDestination:
    """One place spans go, resolved against the environment (``Telemetry.destinations``):
    ``kind`` is ``"file"`` (the local file sink), ``"otlp"``, ``"datadog"`` or ``"posthog"``.

    ``headers`` and ``token`` are credentials: kept (read-only), never in the repr; use
    ``describe()`` for a line without secrets. ``problem``: why this destination cannot be
    used (nothing is sent to it; its queue keeps what is recorded, and ``status`` says why).
    """

    kind: str
    endpoint: str | None
    protocol: str
    headers: Mapping[str, str] = field(repr=False)
    token: str | None = field(repr=False)
    timeout_s: float
    compression: str | None
    deadline_s: float
    file_max_bytes: int
    ca_file: str | None
    client_cert: str | None
    client_key: str | None
    insecure: bool
    problem: str | None

    def _private(self) -> Destination:
        from otel_cli_telemetry._disk.destination import Destination

        fields = {name: getattr(self, name) for name in Destination.__slots__}
        return Destination(**{**fields, "headers": dict(self.headers)})

    def describe(self) -> str:
        """A human summary without secrets (what ``status`` prints)."""
        return self._private().describe()

    def __repr__(self) -> str:
        # The endpoint's userinfo and query values are redacted; credentials never shown.
        return repr(self._private()).replace("Destination(", "ResolvedDestination(", 1)

    @classmethod
    def of(cls, record: Destination) -> ResolvedDestination:
        return cls(
            kind=record.kind,
            endpoint=record.endpoint,
            protocol=record.protocol,
            headers=MappingProxyType(dict(record.headers)),
            token=record.token,
            timeout_s=record.timeout_s,
            compression=record.compression,
            deadline_s=record.deadline_s,
            file_max_bytes=record.file_max_bytes,
            ca_file=record.ca_file,
            client_cert=record.client_cert,
            client_key=record.client_key,
            insecure=record.insecure,
            problem=record.problem,
        )
