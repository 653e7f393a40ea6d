"""What ``status`` reports: whether telemetry is on, which rule decided, and where."""

from otel_cli_telemetry._record import Record

# Loaded on demand (``from otel_cli_telemetry import Status``): no import at run time, so
# annotations that need one are strings.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath
    from otel_cli_telemetry.records import QueueStatus


class Status(Record):
    """What ``status`` reports: whether telemetry is on, which rule decided, and where."""

    __slots__ = (
        "enabled", "rule", "detail", "home", "config_file", "debug", "spooled", "queues",
        "mode", "policy", "kept",
    )  # fmt: skip

    def __init__(
        self,
        *,
        enabled: bool,
        rule: str,
        detail: str,
        home: "StrPath",
        config_file: "StrPath",
        debug: bool,
        spooled: int,
        queues: "Sequence[QueueStatus]",
        mode: str | None = None,
        policy: str | None = None,
        kept: "list[tuple[str, str]] | None" = None,
    ) -> None:
        self.enabled = enabled
        self.rule = rule
        self.detail = detail
        self.home = home
        self.config_file = config_file
        self.debug = debug
        self.spooled = spooled
        #: Each destination's queue: where it goes and how its delivery is doing.
        self.queues: tuple[QueueStatus, ...] = tuple(queues)
        #: ``on``, ``local`` (the local file sink only) or ``off``.
        self.mode = mode if mode is not None else ("on" if enabled else "off")
        #: The machine policy: where it is and what it says for this app.
        self.policy = policy
        #: What is on disk for this app now: (what, where).
        self.kept = kept if kept is not None else []

    @property
    def destination(self) -> str:
        """Where spans go, every destination described (``; `` between them)."""
        return "; ".join(q.destination for q in self.queues)

    @property
    def delivery(self) -> "Mapping[str, Any]":
        """The first destination's delivery state (the exporter records its failures and
        takeovers there)."""
        return self.queues[0].delivery if self.queues else {}

    @staticmethod
    def _delivery_lines(delivery: "Mapping[str, Any]") -> "list[str]":
        """Every count ``delivery.json`` keeps: deliveries, attempts, the back-off, losses."""
        import datetime
        import time

        lines = []
        if delivery.get("delivered"):
            lines.append(f"delivered so far: {delivery['delivered']}")
        if delivery.get("attempts") or delivery.get("exporter_runs"):
            lines.append(
                f"export requests so far: {delivery.get('attempts') or 0} "
                f"(exporter runs: {delivery.get('exporter_runs') or 0})"
            )
        if delivery.get("failures"):
            line = f"failed attempts in a row: {delivery['failures']}"
            next_at = delivery.get("next_attempt_at")
            if isinstance(next_at, (int, float)) and next_at > time.time():
                when = datetime.datetime.fromtimestamp(next_at).strftime("%Y-%m-%d %H:%M:%S")
                line += f", next attempt after {when}"
                written = delivery.get("backoff_written_at")
                if isinstance(written, (int, float)) and written > 0:
                    since = datetime.datetime.fromtimestamp(written).strftime("%H:%M:%S")
                    line += f" (back-off set at {since})"
            lines.append(line)
        if delivery.get("last_error"):
            lines.append(f"last delivery error: {delivery['last_error']}")
        if delivery.get("dropped"):
            from otel_cli_telemetry._disk.delivery import SPAN_REASONS, traces_and_spans

            dropped = ", ".join(
                f"{k}={v}" + (" spans" if k in SPAN_REASONS else "")
                for k, v in sorted(delivery["dropped"].items())
            )
            traces, spans = traces_and_spans(delivery.get("unreported") or {})
            waiting = [str(traces)] if traces else []
            waiting += [f"{spans} spans"] if spans else []
            if waiting:
                dropped += f" ({' and '.join(waiting)} not yet reported on a delivered span)"
            lines.append(f"dropped: {dropped}")
        return lines

    def lines(self) -> list[str]:
        from otel_cli_telemetry._exporter.sinks import grpc as grpc_sink  # no grpc import

        state_word = {"on": "enabled", "local": "local only (nothing is sent)"}.get(
            self.mode, "disabled"
        )
        lines = [
            f"telemetry: {state_word} ({self.rule}: {self.detail})",
            f"mode: {self.mode}",
            f"destination: {self.destination}"
            + (" [debug: printing, not sending]" if self.debug else ""),
            *grpc_sink.status_lines(self.destination),
            f"state directory: {self.home}",
            f"config file: {self.config_file}",
            f"spooled traces waiting: {self.spooled}",
        ]
        if len(self.queues) > 1:  # one queue per destination: each says how it is doing
            for queue in self.queues:
                lines.append(f"{queue.destination}:")
                lines.extend(
                    f"  {line}"
                    for line in self._delivery_lines(queue.delivery)
                    or ["nothing delivered or lost yet"]
                )
        else:
            lines.extend(self._delivery_lines(self.delivery))
        failure = self.delivery.get("exporter_failure")
        if isinstance(failure, dict) and failure.get("type"):
            lines.append(
                f"last exporter failure: {failure['type']} during {failure.get('step', '?')}"
            )
        if self.delivery.get("takeovers"):
            lines.append(f"stopped exporters taken over: {self.delivery['takeovers']}")
        if self.policy is not None:
            lines.append(f"machine policy: {self.policy}")
        if self.kept:
            lines.append("kept on disk (`telemetry reset` deletes all but your choice):")
            lines.extend(f"  {what}: {where}" for what, where in self.kept)
        else:
            lines.append("kept on disk: nothing")
        from otel_cli_telemetry._disk import state  # not on the hot path: status only

        problem = state.config_problem(self.config_file)
        if problem:
            import os

            lines.append(f"{os.path.basename(self.config_file)} ignored: {problem}")
        from otel_cli_telemetry._disk.urls import redact_text

        return [redact_text(line) for line in lines]  # no URL's userinfo or query values
