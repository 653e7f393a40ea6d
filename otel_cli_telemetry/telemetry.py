"""The public entry point: ``Telemetry``, ``telemetry.command()`` and ``telemetry.track()``.

Constructing a Telemetry object does nothing but store its arguments. Consent is
resolved when a command starts; when it says no, no OpenTelemetry module is imported,
no file is written, no process started and no socket opened.

Nor is anything imported beyond the package's light entry (this module, ``run``,
``consent``, ``config``, ``_record``): the environment is consulted before any path is
resolved, ``state``, ``notice`` and ``status`` are imported where they are used, and
annotations that name other modules are strings (``from __future__`` is itself an import).
"""

import os

from otel_cli_telemetry._controls import Controls
from otel_cli_telemetry._disk import consent as consent_mod
from otel_cli_telemetry._disk import contract
from otel_cli_telemetry._process.run import CommandContext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, TypeVar

    from opentelemetry.trace import Tracer

    from otel_cli_telemetry import destinations as destinations_mod
    from otel_cli_telemetry._disk import destination as destination_mod
    from otel_cli_telemetry._disk import state
    from otel_cli_telemetry._process.launcher import Spawn
    from otel_cli_telemetry._process.recorder import Recorder

    F = TypeVar("F", bound=Callable[..., Any])

#: ``send``: CI runs are recorded like any other; ``skip``: nothing is recorded in CI;
#: ``local``: CI runs go to the local file sink only.
CI_POLICIES = ("send", "skip", "local")
#: ``auto``: the first-run notice is shown when stderr is a terminal; ``always``; ``never``.
NOTICE_MODES = ("auto", "always", "never")


class Telemetry(Controls):
    """Usage telemetry and tracing for one command-line application.

    >>> telemetry = Telemetry("assembly", version="1.2.3", env_prefix="ASSEMBLY")
    >>> with telemetry.command("transcribe"):
    ...     pass

    ``destinations``: where spans go, e.g. ``[OTLP("https://otlp.example.com")]`` (see
    ``otel_cli_telemetry.destinations``); none listed and none in the environment: the
    embedded local file sink.
    """

    def __init__(
        self,
        service_name: str,
        *,
        version: str | None = None,
        env_prefix: str | None = None,
        app_name: str | None = None,
        destinations: "Iterable[destinations_mod.Destination] | None" = None,
        enabled: bool | None = None,
        identity_linking: bool = False,
        sample_rate: float = 1.0,
        home: str | os.PathLike[str] | None = None,
        export_deadline: float = contract.DEFAULT_EXPORT_DEADLINE_S,
        ci_policy: str = "send",
        notice: str | None = None,
        notice_version: int = 1,
        show_notice: str = "auto",
        env: "Mapping[str, str] | None" = None,
        spawn: "Spawn | None" = None,
        declared_attributes: "Iterable[str] | Mapping[str, str] | None" = None,
        exit_codes: "Mapping[int, str] | None" = None,
        crash_location: bool = True,
        app_package: str | None = None,
    ) -> None:
        if not service_name or not isinstance(service_name, str):
            raise ValueError("service_name must be a non-empty string, e.g. 'assembly'")
        if not (isinstance(sample_rate, (int, float)) and 0.0 <= sample_rate <= 1.0):
            raise ValueError("sample_rate must be a number from 0.0 to 1.0, e.g. 0.25")
        if not export_deadline > 0:
            raise ValueError("export_deadline must be a positive number of seconds")
        if ci_policy not in CI_POLICIES:
            raise ValueError(f"ci_policy must be one of {', '.join(CI_POLICIES)}")
        if show_notice not in NOTICE_MODES:
            raise ValueError(f"show_notice must be one of {', '.join(NOTICE_MODES)}")
        listed: tuple[destinations_mod.Destination, ...] = ()
        if destinations:
            # The author made the objects, so their module is loaded already.
            from otel_cli_telemetry.destinations import checked

            listed = checked(destinations)
        self.service_name = service_name
        self.version = version
        self.env_prefix = env_prefix or contract.env_prefix_for(service_name)
        self.app_name = app_name or service_name
        self._listed = listed
        self.identity_linking = identity_linking
        self.sample_rate = float(sample_rate)
        self.ci_policy = ci_policy
        self.notice_version = notice_version
        self.show_notice = show_notice
        self._notice = notice
        #: The command that runs the consent actions (``"tasks telemetry"``), set by the
        #: integration that mounted them; None: the notice names the module CLI instead.
        self.consent_command: str | None = None
        self._noticed = False
        self._enabled = enabled
        self._home = home
        self._deadline = export_deadline
        self._env = env
        self._spawn = spawn
        self._recorder: Recorder | None = None
        self._capture_recorder: Recorder | None = None
        self._paths: state.Paths | None = None
        self._last_decision: consent_mod.Decision | None = None
        #: The attributes the author's commands may set (name -> what it is), listed by
        #: ``disclosure()`` with the library's own fields.
        self.declared_attributes = _declared(declared_attributes) if declared_attributes else {}
        #: What the app's exit codes mean (``{2: "error"}``), beating the convention that
        #: 2 is a usage error and 130 an interrupt; see ``_process.command``.
        self.exit_codes: dict[int, str] | None = None
        if exit_codes:
            from otel_cli_telemetry._process.command import checked_exit_codes

            self.exit_codes = checked_exit_codes(exit_codes)
        #: On an internal error, record where it crashed (``cli_telemetry.crash.frames``).
        self.crash_location = bool(crash_location)
        #: The app's own top-level package, whose frames a crash location names: by default
        #: that of the module that made this object (``__main__`` for a script).
        self.app_package = app_package or _caller_package()

    # --- configuration ------------------------------------------------------------

    @property
    def env(self) -> "Mapping[str, str]":
        return self._env if self._env is not None else os.environ

    @property
    def _state_paths(self) -> "state.Paths":
        if self._paths is None:
            from otel_cli_telemetry._disk import state

            self._paths = state.resolve_paths(self.app_name, self.env_prefix, self.env, self._home)
        return self._paths

    def consent(self) -> consent_mod.Decision:
        """Resolve consent now (cheap; no OpenTelemetry import)."""
        env = self.env
        if env.get(contract.CHILD_MARKER):
            return consent_mod.Decision(False, "exporter", "inside the exporter child")
        # The one precedence, shared with the exporter child: an opt-out in the environment
        # resolves no path and imports nothing more.
        decision = consent_mod.resolve(
            env,
            env_prefix=self.env_prefix,
            config_file=lambda: self._state_paths.config_file,
            explicit=self._enabled,
            service_name=self.service_name,
        )
        if decision.enabled and decision.rule != "env" and self.ci_policy == "skip":
            from otel_cli_telemetry._process.attributes import ci_provider

            provider = ci_provider(env)
            if provider is not None:
                decision = consent_mod.Decision(
                    False, "ci_policy", f"running in CI ({provider}); the app's ci_policy is 'skip'"
                )
        if decision.enabled:
            from otel_cli_telemetry._disk import state

            try:
                state.check_dir(self._state_paths.home)
            except state.UnsafeHomeError as exc:
                decision = consent_mod.Decision(False, "unsafe_home", str(exc))
        self._last_decision = decision
        return decision

    def _resolved_destinations(self) -> "list[destination_mod.Destination]":
        """``destinations()`` as the internal records the queues and the exporter use."""
        from otel_cli_telemetry._disk import destination as destination_mod

        local = [destination_mod.Destination(deadline_s=self._deadline)]
        decision = self._last_decision or self.consent()
        if decision.mode == consent_mod.LOCAL:
            return local
        if self.ci_policy == "local":
            from otel_cli_telemetry._process.attributes import ci_provider

            if ci_provider(self.env) is not None:
                return local
        from otel_cli_telemetry._process import config

        if not self._listed and not config.configures_a_destination(self.env, self.env_prefix):
            return local  # the default, known without loading the destination classes
        from otel_cli_telemetry import destinations as destinations_mod

        resolved = (
            d.resolve(self.env, env_prefix=self.env_prefix, deadline_s=self._deadline)
            for d in destinations_mod.with_env_defaults(self._listed)
        )
        return [r for r in resolved if r is not None] or local

    def _debug(self) -> bool:
        from otel_cli_telemetry._process import session

        return session.debug(self)

    # --- commands -----------------------------------------------------------------

    def command(
        self, name: str, *, attributes: "Mapping[str, Any] | None" = None
    ) -> CommandContext:
        """A context manager around one command: ``with telemetry.command("transcribe"):``.

        The span records how the block ended (see ``otel_cli_telemetry._process.command``); any
        exception, ``SystemExit`` included, propagates unchanged.
        """
        return CommandContext(self, name, attributes)

    def track(self, name: str | None = None) -> "Callable[[F], F]":
        """Decorator form: ``@telemetry.track("transcribe")``; the name defaults to the
        function's. An integer return value is taken as the exit code."""

        from otel_cli_telemetry._process.run import track

        return track(self, name)

    def _recorder_for_run(self) -> "Recorder":
        """The recorder of this app's command spans (light until the SDK is asked for)."""
        from otel_cli_telemetry._process import session

        return session.recorder_for_run(self)

    @property
    def tracer(self) -> "Tracer":
        """A tracer whose spans, started inside a command, are children of the command span.

        When telemetry is off it is a no-op tracer that imports nothing from OpenTelemetry.
        """
        decision = self._last_decision or self.consent()
        if decision.enabled:
            from otel_cli_telemetry._process import session

            return session.sdk_tracer(self)
        from otel_cli_telemetry._process.noop import NoOpTracer

        return NoOpTracer()  # type: ignore[return-value]

    def _maybe_show_notice(self) -> None:
        """Tell the user once (per notice version) that telemetry is on, on stderr."""
        from otel_cli_telemetry._process import session

        session.maybe_show_notice(self)

    def _forget_recorders(self) -> None:
        """After a change of consent or identity: the next command builds its hand-off
        afresh (destinations, identity, consent context)."""
        self._recorder = self._capture_recorder = None

    def _consent_context(self) -> "dict[str, object]":
        """What the exporter child is told (``consent.json``, 0600) so that it decides again
        before each batch as this command did."""
        from otel_cli_telemetry._process import session

        return session.consent_context(self)


def _declared(
    values: "Iterable[str] | Mapping[str, str] | None",
) -> "dict[str, str]":
    """``declared_attributes`` as name -> description (a bare name gets an empty one)."""
    if values is None:
        return {}
    if isinstance(values, str):
        raise ValueError("declared_attributes must be a list of names or a name -> text map")
    items = values.items() if hasattr(values, "items") else ((v, "") for v in values)
    declared: dict[str, str] = {}
    for name, text in items:
        if not isinstance(name, str) or not name or not isinstance(text, str):
            raise ValueError("declared_attributes: names and descriptions must be strings")
        declared[name] = text
    return declared


def _caller_package() -> str:
    """The top-level package of the module that called ``Telemetry(...)``."""
    import sys

    try:
        name = sys._getframe(2).f_globals.get("__name__")
    except (AttributeError, ValueError):  # pragma: no cover - no frames on this Python
        return ""
    return name.partition(".")[0] if isinstance(name, str) else ""
