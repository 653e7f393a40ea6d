"""The app object (``Telemetry``) as the code behind it sees it: a type, never imported.

``run``, ``session`` and the admin actions work on the ``Telemetry`` object that calls them.
They name it through this protocol instead of importing ``telemetry``, so no module the
public face loads points back at it (no import cycle, not even a type-only one). Nothing
here exists at run time: the module is imported only under ``TYPE_CHECKING``.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Protocol

    from otel_cli_telemetry._disk import state
    from otel_cli_telemetry._disk.consent import Decision
    from otel_cli_telemetry._disk.destination import Destination
    from otel_cli_telemetry._process.launcher import Spawn
    from otel_cli_telemetry._process.recorder import Recorder

    class Host(Protocol):
        """What ``Telemetry`` offers the code it delegates to."""

        service_name: str
        version: str | None
        env_prefix: str
        app_name: str
        identity_linking: bool
        sample_rate: float
        ci_policy: str
        notice_version: int
        show_notice: str
        consent_command: str | None
        declared_attributes: dict[str, str]
        exit_codes: dict[int, str] | None
        crash_location: bool
        app_package: str
        _listed: "tuple[Any, ...]"
        _notice: str | None
        _noticed: bool
        _enabled: bool | None
        _deadline: float
        _spawn: "Spawn | None"
        _recorder: "Recorder | None"
        _capture_recorder: "Recorder | None"
        _last_decision: "Decision | None"

        @property
        def env(self) -> "Mapping[str, str]": ...

        @property
        def _state_paths(self) -> "state.Paths": ...

        def consent(self) -> "Decision": ...

        def command(
            self, name: str, *, attributes: "Mapping[str, Any] | None" = None
        ) -> "Any": ...  # a ``run.CommandContext`` (named here, ``run`` would be a cycle)

        def notice_text(self) -> str: ...

        def _resolved_destinations(self) -> "list[Destination]": ...

        def _recorder_for_run(self) -> "Recorder": ...

        def _maybe_show_notice(self) -> None: ...

        def _forget_recorders(self) -> None: ...

        def _consent_context(self) -> "dict[str, object]": ...

        def _debug(self) -> bool: ...
