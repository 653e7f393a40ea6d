"""One batch of spooled traces: read it, send it, and deal with the answer.

- A retryable answer is tried again within the run while the wait fits in the time left;
  past that, the back-off is persisted in ``delivery.json`` and the drain stops.
- A refusal of the whole batch that one trace may have caused (``Result.split``) splits the
  batch in halves until that trace is isolated: only it is dropped.
- Requests a sink cannot encode at all are quarantined; the rest of the batch goes on.
- Spool files are deleted once accepted or refused for good; losses are counted by reason
  and announced on the next delivered command span.
"""

from __future__ import annotations

from otel_cli_telemetry._disk import contract as attributes  # the names both sides share
from otel_cli_telemetry._disk import delivery, spool
from otel_cli_telemetry._disk.otlp_read import is_command_span, iter_spans
from otel_cli_telemetry._exporter.sinks import INT64_MAX, ExportResult, Result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from otel_cli_telemetry._exporter.run import Run

    #: A batch: the spool entries and their requests, index for index.
    Entries = list[spool.Entry]
    Requests = list[dict[str, Any]]

#: Retries of one batch within one run, when the wait fits in the time left.
MAX_ATTEMPTS_PER_RUN = 4
#: ``Report.last_error`` when sent files cannot be deleted (sending more would duplicate).
SPOOL_STUCK = "spool_not_deletable"
#: The loss count of a partial success (spans the OTLP destination did not keep).
PARTIAL_SUCCESS = "partial_success_rejected_spans"


def read(run: Run, entries: Entries) -> tuple[Entries, Requests]:
    """The requests of ``entries`` that can be read; a corrupt file is quarantined, counted."""
    good: Entries = []
    requests: Requests = []
    for entry in entries:
        try:
            request, run.decisions[entry.path] = spool.read_record(entry)
            requests.append(request)
            good.append(entry)
        except FileNotFoundError:
            continue
        except (ValueError, OSError):
            spool.quarantine(entry, run.paths.quarantine_dir)
            run.count_drops({"corrupt": 1})
    return good, requests


def send(run: Run, entries: Entries, requests: Requests) -> bool:
    """Deliver one batch; True if the drain must stop (backing off, or the spool cannot be
    cleaned). Earlier losses are announced on the batch's first command span."""
    unreported = delivery.load(run.paths.delivery_file).unreported
    return _Sender(run, _announce_drops(requests, unreported)).deliver(entries, requests)


#: An attempt needs at least this long (or the destination's timeout, if shorter) before
#: the run's deadline; ``DEADLINE``: what the report says when the run ends a batch early.
MIN_ATTEMPT_S = 2.0
DEADLINE = "deadline"


class _Sender:
    """Sends a batch with retries, splitting it while the destination refuses it."""

    def __init__(self, run: Run, announced: tuple[int, dict[str, int]] | None) -> None:
        self.run = run
        #: (id of the request carrying the loss announcement, the losses it announces)
        self.announced = announced

    def _export(self, requests: Requests) -> Result:
        """One attempt. A sink that raises (a broken installation, a setting it cannot
        use: never the data, which sinks set aside themselves) is recorded with its class
        and step and answered as RETRY: the spool keeps everything, delivery backs off."""
        try:
            return self.run.sink.export(requests, timeout_s=max(0.05, self.run.time_left()))
        except Exception as exc:  # noqa: BLE001 - the sink's edge: recorded, backed off
            name = exc.__class__.__name__
            kind = getattr(getattr(self.run.sink, "destination", None), "kind", "file")
            failure = {"type": name[:100], "step": f"export:{kind}", "at": int(self.run.wall())}

            def change(s: delivery.DeliveryState) -> None:
                s.exporter_failure = failure

            self.run.record(change)
            return Result.retry(f"exception:{name}")

    def deliver(self, entries: Entries, requests: Requests) -> bool:
        """True if the drain must stop (backing off, or the spool cannot be cleaned)."""
        run = self.run
        attempts = 0
        while True:
            # Asked before every attempt, retries included: consent now, files still queued.
            keep = run.admitted(entries)
            if len(keep) < len(entries):
                subset = ([entries[i] for i in keep], [requests[i] for i in keep])
                return bool(keep) and self.deliver(*subset)
            # After a first attempt, one the run's own deadline would cut short is left to
            # the next exporter: started with too little time, a request to a healthy but
            # slow destination would time out, back off and be sent twice.
            timeout_s = getattr(getattr(run.sink, "destination", None), "timeout_s", 0.0)
            if run.report.attempts and run.time_left() < min(timeout_s, MIN_ATTEMPT_S):
                run.report.last_error = DEADLINE
                return True
            attempts += 1
            run.report.attempts += 1
            result = self._export(requests)
            if result.status is not ExportResult.RETRY:
                break
            wait = _persist_backoff(run, result)
            run.report.last_error = result.reason
            if attempts < MAX_ATTEMPTS_PER_RUN and wait + 0.5 < run.time_left():
                run.sleep(wait)
                continue
            run.report.backing_off = True
            return True
        if result.status is ExportResult.FAILURE and result.unencodable:
            bad = set(result.unencodable)
            for index in sorted(bad):
                spool.quarantine(entries[index], run.paths.quarantine_dir)
            run.count_drops({"unencodable": len(bad)})
            rest = [i for i in range(len(entries)) if i not in bad]
            if not rest:
                return False
            return self.deliver([entries[i] for i in rest], [requests[i] for i in rest])
        if result.status is ExportResult.FAILURE and result.split and len(entries) > 1:
            half = len(entries) // 2
            if self.deliver(entries[:half], requests[:half]):
                return True
            if run.time_left() <= 0:
                return True
            return self.deliver(entries[half:], requests[half:])
        removed = [spool.remove(entry) for entry in entries]
        if result.status is ExportResult.SUCCESS:
            run.report.delivered += len(entries)
            announced: dict[str, int] = {}
            if self.announced is not None and any(id(r) == self.announced[0] for r in requests):
                announced = self.announced[1]
            count = len(entries)
            run.record(lambda s: _on_accepted(s, count, result, announced))
        else:
            reason = f"refused_{result.reason}"
            run.report.add_drops({reason: len(entries)})
            drops = {reason: len(entries)}
            run.record(lambda s: _on_refused(s, drops))
        if not all(removed):
            run.report.last_error = SPOOL_STUCK
            return True
        return False


def _announce_drops(
    requests: Requests, unreported: dict[str, int]
) -> tuple[int, dict[str, int]] | None:
    """Make earlier losses visible: annotate the first command span of the batch with the
    number of traces (and of spans of delivered traces) dropped since the last report, and
    why. Returns which request carries the announcement (by id) and what it announces,
    marked reported once it is delivered."""
    if not unreported:
        return None
    # A count that does not fit an OTLP int64 would make the span unencodable: saturate.
    reasons = [f"{k}={min(v, INT64_MAX)}" for k, v in sorted(unreported.items())]
    traces, spans = delivery.traces_and_spans(unreported)
    counts = [
        (attributes.DROPPED_TRACES, min(traces, INT64_MAX)),
        (attributes.DROPPED_SPANS, min(spans, INT64_MAX)),
    ]
    for request in requests:
        for _, span in iter_spans([request]):
            if not is_command_span(span):
                continue
            span["attributes"].extend(
                {"key": key, "value": {"intValue": str(n)}} for key, n in counts if n
            )
            span["attributes"].append(
                {
                    "key": attributes.DROPPED_REASONS,
                    "value": {"arrayValue": {"values": [{"stringValue": r} for r in reasons]}},
                }
            )
            return id(request), dict(unreported)
    return None


# --- what each answer changes in delivery.json (under its lock, see ``delivery.update``)


def _on_refused(s: delivery.DeliveryState, drops: dict[str, int]) -> None:
    s.attempts = min(s.attempts + 1, INT64_MAX)
    s.add_drops(drops)


def _on_accepted(
    s: delivery.DeliveryState, count: int, result: Result, announced: dict[str, int]
) -> None:
    s.attempts = min(s.attempts + 1, INT64_MAX)
    s.mark_reported(announced)
    s.failures = 0
    s.set_backoff(0.0, 0.0)
    s.last_error = None
    s.delivered = min(s.delivered + count, INT64_MAX)
    if result.rejected_spans:
        reason = f"refused_{result.reason}" if result.reason else PARTIAL_SUCCESS
        s.add_drops({reason: result.rejected_spans})


def _persist_backoff(run: Run, result: Result) -> float:
    """Persist the back-off for this failure and return how long to wait."""
    waits: list[float] = []

    def change(s: delivery.DeliveryState) -> None:
        s.attempts = min(s.attempts + 1, INT64_MAX)
        s.failures = min(s.failures + 1, 1_000_000)
        wait = result.retry_after_s
        if wait is None:
            wait = delivery.backoff_delay(s.failures)
        wait = min(max(wait, 0.0), delivery.MAX_RETRY_AFTER_S)
        s.set_backoff(wait, run.wall())
        s.last_error = result.reason
        waits.append(wait)

    run.record(change)
    return waits[0] if waits else delivery.backoff_delay(1)
