"""What ``status`` reports: whether telemetry is on, which rule decided, and where."""

from otel_cli_telemetry._record import Record

# Loaded on demand (``from otel_cli_telemetry import Status``): no import at run time, so
# annotations that need one are strings.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath


class Status(Record):
    """What ``status`` reports: whether telemetry is on, which rule decided, and where."""

    __slots__ = (
        "enabled", "rule", "detail", "home", "config_file", "destination", "debug",
        "spooled", "delivery",
    )  # fmt: skip

    def __init__(
        self,
        *,
        enabled: bool,
        rule: str,
        detail: str,
        home: "StrPath",
        config_file: "StrPath",
        destination: str,
        debug: bool,
        spooled: int,
        delivery: "dict[str, Any]",
    ) -> None:
        self.enabled = enabled
        self.rule = rule
        self.detail = detail
        self.home = home
        self.config_file = config_file
        self.destination = destination
        self.debug = debug
        self.spooled = spooled
        self.delivery = delivery

    def lines(self) -> list[str]:
        state_word = "enabled" if self.enabled else "disabled"
        lines = [
            f"telemetry: {state_word} ({self.rule}: {self.detail})",
            f"destination: {self.destination}"
            + (" [debug: printing, not sending]" if self.debug else ""),
            f"state directory: {self.home}",
            f"config file: {self.config_file}",
            f"spooled traces waiting: {self.spooled}",
        ]
        if self.delivery.get("delivered"):
            lines.append(f"delivered so far: {self.delivery['delivered']}")
        if self.delivery.get("last_error"):
            lines.append(f"last delivery error: {self.delivery['last_error']}")
        if self.delivery.get("dropped"):
            dropped = ", ".join(f"{k}={v}" for k, v in sorted(self.delivery["dropped"].items()))
            lines.append(f"dropped: {dropped}")
        failure = self.delivery.get("exporter_failure")
        if isinstance(failure, dict) and failure.get("type"):
            lines.append(
                f"last exporter failure: {failure['type']} during {failure.get('step', '?')}"
            )
        if self.delivery.get("takeovers"):
            lines.append(f"stopped exporters taken over: {self.delivery['takeovers']}")
        from otel_cli_telemetry._disk import state  # not on the hot path: status only

        problem = state.config_problem(self.config_file)
        if problem:
            import os

            lines.append(f"{os.path.basename(self.config_file)} ignored: {problem}")
        return lines
