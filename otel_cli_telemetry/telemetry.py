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

from otel_cli_telemetry._disk import consent as consent_mod
from otel_cli_telemetry._process import config
from otel_cli_telemetry._process.run import CommandContext, capture_target, in_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, TypeVar

    from opentelemetry.trace import Tracer

    from otel_cli_telemetry import destinations as destinations_mod
    from otel_cli_telemetry._admin.status import Status
    from otel_cli_telemetry._disk import destination as destination_mod
    from otel_cli_telemetry._disk import state
    from otel_cli_telemetry._process.launcher import Spawn
    from otel_cli_telemetry._process.recorder import Recorder
    from otel_cli_telemetry.records import Change, FlushReport, Paths, ResolvedDestination

    F = TypeVar("F", bound=Callable[..., Any])

#: ``send``: CI runs are recorded like any other; ``skip``: nothing is recorded in CI;
#: ``local``: CI runs go to the local file sink only.
CI_POLICIES = ("send", "skip", "local")
#: ``auto``: the first-run notice is shown when stderr is a terminal; ``always``; ``never``.
NOTICE_MODES = ("auto", "always", "never")


class Telemetry:
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
        export_deadline: float = config.DEFAULT_EXPORT_DEADLINE_S,
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
        self.env_prefix = env_prefix or config.env_prefix_for(service_name)
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
        self.declared_attributes = _declared(declared_attributes)
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
    def paths(self) -> "Paths":
        """Where this app keeps its config, state and spool (resolved once): an immutable
        ``otel_cli_telemetry.Paths``."""
        from otel_cli_telemetry.records import Paths

        return Paths.of(self._state_paths)

    @property
    def _state_paths(self) -> "state.Paths":
        if self._paths is None:
            from otel_cli_telemetry._disk import state

            self._paths = state.resolve_paths(self.app_name, self.env_prefix, self.env, self._home)
        return self._paths

    def consent(self) -> consent_mod.Decision:
        """Resolve consent now (cheap; no OpenTelemetry import)."""
        env = self.env
        if env.get(config.CHILD_MARKER):
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

    def destinations(self) -> "list[ResolvedDestination]":
        """Where spans go, resolved against the environment: the listed destinations and
        those the environment configures (``OTEL_EXPORTER_OTLP_*``, the app's Datadog token),
        else the local file sink (also in local mode, and in CI with ``ci_policy="local"``).
        Immutable records; headers and tokens are kept but never shown in their repr."""
        from otel_cli_telemetry.records import ResolvedDestination

        return [ResolvedDestination.of(d) for d in self._resolved_destinations()]

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
        if not self._listed and not config.configures_a_destination(self.env, self.env_prefix):
            return local  # the default, known without loading the destination classes
        from otel_cli_telemetry import destinations as destinations_mod

        resolved = (
            d.resolve(self.env, env_prefix=self.env_prefix, deadline_s=self._deadline)
            for d in destinations_mod.with_env_defaults(self._listed)
        )
        return [r for r in resolved if r is not None] or local

    def _debug(self) -> bool:
        return bool(config.flag(self.env, config.APP_DEBUG.format(prefix=self.env_prefix)))

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
        from otel_cli_telemetry._process.handoff import Handoff
        from otel_cli_telemetry._process.recorder import Recorder

        capture = capture_target()
        if capture is not None:
            # The test kit is capturing: a separate hand-off that never touches the disk.
            current = self._capture_recorder
            if current is None or current.handoff.options.capture is not capture:
                current = self._capture_recorder = Recorder(
                    Handoff(self._options(destinations=[], debug=False, capture=capture))
                )
            return current
        if self._recorder is None:
            self._recorder = Recorder(
                Handoff(
                    self._options(
                        destinations=self._resolved_destinations(),
                        debug=self._debug(),
                        consent_context=self._consent_context(),
                        mode=(self._last_decision or self.consent()).mode,
                    )
                )
            )
        return self._recorder

    def _options(self, **varying: "Any") -> "Any":
        from otel_cli_telemetry._process.handoff import Options

        return Options(
            service_name=self.service_name,
            service_version=self.version,
            env_prefix=self.env_prefix,
            paths=self._state_paths,
            env=self.env,
            spawn=self._spawn,
            identity_linking=self.identity_linking,
            sample_rate=self.sample_rate,
            **varying,
        )

    @property
    def tracer(self) -> "Tracer":
        """A tracer whose spans, started inside a command, are children of the command span.

        When telemetry is off it is a no-op tracer that imports nothing from OpenTelemetry.
        """
        decision = self._last_decision or self.consent()
        if decision.enabled:
            # The command asks for the SDK: its open command spans continue as SDK spans.
            return self._recorder_for_run().sdk().tracer
        from otel_cli_telemetry._process.noop import NoOpTracer

        return NoOpTracer()  # type: ignore[return-value]

    # --- identity -------------------------------------------------------------------

    def link_identity(self, principal_id: str | None) -> bool:
        """Call after a successful login: link this installation to ``principal_id``.

        Idempotent (no second alias for the same principal); a different principal re-links
        under a fresh anonymous id. ``None`` or an empty id (the account could not be
        checked, e.g. offline) keeps the installation anonymous. Returns True when a new link
        was made. Does nothing unless the author enabled ``identity_linking`` (the principal
        id is personal data) and telemetry is on.

        With PostHog configured, a ``$create_alias`` is queued under the state lock before the
        link becomes visible, so it is sent before any event that uses the principal id.
        """
        if not principal_id or not self.identity_linking or not self.consent().enabled:
            return False
        from otel_cli_telemetry._admin import actions

        return actions.link_identity(self, principal_id)

    def unlink_identity(self) -> None:
        """Call on logout: forget the principal and rotate the anonymous installation id."""
        if self.consent().enabled:
            from otel_cli_telemetry._admin import actions

            actions.unlink_identity(self)

    def notice_text(self) -> str:
        """The first-run notice (the author's, or a plain default)."""
        from otel_cli_telemetry._process import notice as notice_mod

        return self._notice or notice_mod.default_text(
            self.app_name, self.env_prefix, consent_command=self.consent_command
        )

    def _maybe_show_notice(self) -> None:
        """Tell the user once (per notice version) that telemetry is on, on stderr."""
        if self._noticed or self.show_notice == "never" or capture_target() is not None:
            return
        self._noticed = True
        if self.show_notice == "auto" and not _stderr_is_terminal():
            return  # the common case in scripts and CI: not even the module is loaded
        from otel_cli_telemetry._process import notice as notice_mod

        notice_mod.show_once(
            self.notice_text(),
            self._state_paths.config_file,
            version=self.notice_version,
            only_on_terminal=self.show_notice == "auto",
        )

    def child_env(self, env: "Mapping[str, str] | None" = None) -> dict[str, str]:
        """A copy of the environment for a subprocess, carrying the current trace context
        and baggage (``TRACEPARENT``/``TRACESTATE``/``BAGGAGE``, as ``OTEL_PROPAGATORS``
        allows) so a traced child joins this command's trace.

        When telemetry is off, a plain copy (an inherited ``TRACEPARENT`` passes through).
        """
        result = dict(os.environ if env is None else env)
        decision = self._last_decision
        if decision is None or not decision.enabled or not in_command():
            return result
        light = self._recorder_for_run().carriers()
        if light is not None:  # no SDK needed for the command span's own context
            for name, value in light.items():
                if value:
                    result[name] = value
                else:
                    result.pop(name, None)
            return result
        from otel_cli_telemetry._process import propagation

        return propagation.inject(result, config.propagators_from_env(self.env))

    def install_global_tracer_provider(self) -> bool:
        """Opt in to making our private provider OpenTelemetry's global one, so spans made
        with ``opentelemetry.trace.get_tracer(...)`` inside a command ship with it.

        OpenTelemetry allows this once per process. Returns False (and does nothing) when
        telemetry is off or another provider is already global.
        """
        if not self.consent().enabled:
            return False
        from opentelemetry import trace

        provider = self._recorder_for_run().sdk().provider
        if trace.get_tracer_provider() is provider:
            return True
        if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            return False
        trace.set_tracer_provider(provider)
        return trace.get_tracer_provider() is provider

    # --- the consent commands -----------------------------------------------------

    def status(self) -> "Status":
        """Whether telemetry is on, in which mode, which rule decided, and what is on disk
        where. Records nothing; works with telemetry off."""
        from otel_cli_telemetry._admin import actions

        return actions.status(self)

    def enable(self) -> consent_mod.Decision:
        """Persist "on" (environment variables and the machine policy still win) and return
        the new decision. Raises ``otel_cli_telemetry.UnsafeHomeError`` when the state dir
        could be swapped or written by someone else (nothing is written then)."""
        from otel_cli_telemetry._process.consent import persist

        persist(self._state_paths.config_file, consent_mod.ON)
        return self.consent()

    def disable(self) -> "Change":
        """Persist "off", delete every trace waiting to be sent, and return the new decision
        with how many spans were deleted (``deleted_spans``)."""
        from otel_cli_telemetry._admin import actions

        return actions.withdraw(self, consent_mod.OFF)

    def local(self) -> "Change":
        """Persist "local" (record to the local file sink only, send nothing), delete every
        trace waiting to be sent elsewhere, and return the new decision with the count."""
        from otel_cli_telemetry._admin import actions

        return actions.withdraw(self, consent_mod.LOCAL)

    def _forget_recorders(self) -> None:
        """After a change of consent or identity: the next command builds its hand-off
        afresh (destinations, identity, consent context)."""
        self._recorder = self._capture_recorder = None

    def reset(self) -> list[str]:
        """Forget this installation: delete the installation id (a new one is minted on the
        next recorded command), any linked account, every queue, the local file sink and the
        delivery state. The choice (``config.toml``) is kept. Returns what was deleted.
        Records and sends nothing; works with telemetry off."""
        from otel_cli_telemetry._admin import actions

        return actions.reset(self)

    def disclosure(self, *, every_destination: bool = False) -> str:
        """Every field this app can send, as Markdown (generated from the allow-lists the
        code uses, plus ``declared_attributes``), for the destinations it is configured for
        (``every_destination=True``: for all of them, as the README lists them)."""
        from otel_cli_telemetry._admin.disclosure import configured_kinds, render

        kinds = None if every_destination else configured_kinds(self)
        return render(self.declared_attributes, kinds)

    def _consent_context(self) -> "dict[str, object]":
        """What the exporter child is told (``consent.json``, 0600) so that it decides again
        before each batch as this command did."""
        return consent_mod.context(
            self.env,
            env_prefix=self.env_prefix,
            service_name=self.service_name,
            config_file=self._state_paths.config_file,
            explicit=self._enabled,
        )

    def flush(
        self,
        timeout: float | None = None,
        *,
        progress: "Callable[[FlushReport], None] | None" = None,
    ) -> "FlushReport":
        """Deliver the spool now, in the foreground, waiting for a running exporter.

        For CI jobs that want their spans sent before the runner goes away. Ignores the
        back-off (the user asked) but honours the deadline (default: the export deadline).
        """
        from otel_cli_telemetry._admin import actions

        return actions.flush(self, timeout, progress)


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


def _stderr_is_terminal() -> bool:
    import sys

    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError, OSError):
        return False
