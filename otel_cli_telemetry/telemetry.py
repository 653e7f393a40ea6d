"""The public entry point: ``Telemetry``, ``telemetry.command()`` and ``telemetry.track()``.

Constructing a Telemetry object does nothing but store its arguments. Consent is
resolved when a command starts; when it says no, no OpenTelemetry module is imported,
no file is written, no process started and no socket opened.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import command, config, state
from . import consent as consent_mod
from ._record import Record

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from . import destination as destination_mod
    from .drain import Report
    from .launcher import Spawn
    from .pipeline import CommandSpan, Pipeline

F = TypeVar("F", bound=Callable[..., Any])

#: ``send``: CI runs are recorded like any other; ``skip``: nothing is recorded in CI;
#: ``local``: CI runs go to the local file sink only.
CI_POLICIES = ("send", "skip", "local")
#: ``auto``: the first-run notice is shown when stderr is a terminal; ``always``; ``never``.
NOTICE_MODES = ("auto", "always", "never")

_active: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar(
    "otel_cli_telemetry_active", default=()
)
#: Set by ``otel_cli_telemetry.testing.capture_spans``: where encoded requests go instead.
_capture: contextvars.ContextVar[Callable[[dict[str, Any]], None] | None] = contextvars.ContextVar(
    "otel_cli_telemetry_capture", default=None
)


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
        home: Path,
        config_file: Path,
        destination: str,
        debug: bool,
        spooled: int,
        delivery: dict[str, Any],
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
        return lines


class Telemetry:
    """Usage telemetry and tracing for one command-line application.

    >>> telemetry = Telemetry("assembly", version="1.2.3", env_prefix="ASSEMBLY")
    >>> with telemetry.command("transcribe"):
    ...     pass
    """

    def __init__(
        self,
        service_name: str,
        *,
        version: str | None = None,
        env_prefix: str | None = None,
        app_name: str | None = None,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        enabled: bool | None = None,
        datadog_client_token: str | None = None,
        datadog_site: str | None = None,
        datadog_proxy_url: str | None = None,
        posthog_api_key: str | None = None,
        posthog_host: str | None = None,
        identity_linking: bool = False,
        home: str | os.PathLike[str] | None = None,
        export_deadline: float = config.DEFAULT_EXPORT_DEADLINE_S,
        ci_policy: str = "send",
        notice: str | None = None,
        notice_version: int = 1,
        show_notice: str = "auto",
        env: Mapping[str, str] | None = None,
        spawn: Spawn | None = None,
    ) -> None:
        if not service_name or not isinstance(service_name, str):
            raise ValueError("service_name must be a non-empty string, e.g. 'assembly'")
        if protocol is not None and protocol not in config.PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(config.PROTOCOLS)}")
        if not export_deadline > 0:
            raise ValueError("export_deadline must be a positive number of seconds")
        if posthog_api_key is not None or posthog_host:
            from .sinks import posthog

            if posthog_api_key is None:
                raise ValueError("posthog_host needs posthog_api_key")
            posthog_api_key = posthog.validate_api_key(posthog_api_key)
            posthog.batch_url(posthog_host)  # validates
        if ci_policy not in CI_POLICIES:
            raise ValueError(f"ci_policy must be one of {', '.join(CI_POLICIES)}")
        if show_notice not in NOTICE_MODES:
            raise ValueError(f"show_notice must be one of {', '.join(NOTICE_MODES)}")
        if datadog_client_token is not None or datadog_site or datadog_proxy_url:
            from .sinks import datadog

            if datadog_client_token is not None:
                datadog_client_token = datadog.validate_client_token(datadog_client_token)
            datadog.intake_url(datadog_site, proxy_url=datadog_proxy_url)  # validates both
        self.service_name = service_name
        self.version = version
        self.env_prefix = env_prefix or config.env_prefix_for(service_name)
        self.app_name = app_name or service_name
        self._endpoint = endpoint
        self._protocol = protocol
        self._headers = dict(headers) if headers else None
        self._datadog = (datadog_client_token, datadog_site, datadog_proxy_url)
        self._posthog = (posthog_api_key, posthog_host)
        self.identity_linking = identity_linking
        self.ci_policy = ci_policy
        self.notice_version = notice_version
        self.show_notice = show_notice
        self._notice = notice
        self._noticed = False
        self._enabled = enabled
        self._home = home
        self._deadline = export_deadline
        self._env = env
        self._spawn = spawn
        self._pipeline: Pipeline | None = None
        self._capture_pipeline: Pipeline | None = None
        self._paths: state.Paths | None = None
        self._last_decision: consent_mod.Decision | None = None

    # --- configuration ------------------------------------------------------------

    @property
    def env(self) -> Mapping[str, str]:
        return self._env if self._env is not None else os.environ

    @property
    def paths(self) -> state.Paths:
        """Where this app keeps its config, state and spool (resolved once)."""
        if self._paths is None:
            self._paths = state.resolve_paths(self.app_name, self.env_prefix, self.env, self._home)
        return self._paths

    def consent(self) -> consent_mod.Decision:
        """Resolve consent now (cheap; no OpenTelemetry import)."""
        env = self.env
        if env.get(config.CHILD_MARKER):
            return consent_mod.Decision(False, "exporter", "inside the exporter child")
        paths = self.paths
        decision = consent_mod.resolve(
            env, env_prefix=self.env_prefix, config_file=paths.config_file, explicit=self._enabled
        )
        if decision.enabled and decision.rule != "env" and self.ci_policy == "skip":
            from .attributes import ci_provider

            provider = ci_provider(env)
            if provider is not None:
                decision = consent_mod.Decision(
                    False, "ci_policy", f"running in CI ({provider}); the app's ci_policy is 'skip'"
                )
        if decision.enabled:
            try:
                state.check_dir(paths.home)
            except state.UnsafeHomeError as exc:
                decision = consent_mod.Decision(False, "unsafe_home", str(exc))
        self._last_decision = decision
        return decision

    def destinations(self) -> list[destination_mod.Destination]:
        """Where spans go: OTLP and/or Datadog when configured, else the local file sink."""
        from . import destination as destination_mod

        env = self.env
        otlp = destination_mod.resolve(
            env,
            endpoint=self._endpoint,
            protocol=self._protocol,
            headers=self._headers,
            deadline_s=self._deadline,
        )
        if self.ci_policy == "local":
            from .attributes import ci_provider

            if ci_provider(env) is not None:
                return [destination_mod.Destination(deadline_s=self._deadline)]
        token, site, proxy = self._datadog
        dd = None
        if token is not None or config.get(
            env, config.APP_DATADOG_TOKEN.format(prefix=self.env_prefix)
        ):
            dd = destination_mod.datadog(
                env,
                self.env_prefix,
                client_token=token,
                site=site,
                proxy_url=proxy,
                deadline_s=self._deadline,
            )
        chosen = [] if otlp.kind == destination_mod.FILE else [otlp]
        if dd is not None:
            chosen.append(dd)
        key, host = self._posthog
        if key is not None:
            from .sinks.posthog import batch_url

            chosen.append(
                destination_mod.Destination(
                    kind=destination_mod.POSTHOG,
                    endpoint=batch_url(host),
                    token=key,
                    deadline_s=self._deadline,
                )
            )
        return chosen or [otlp]

    def debug(self) -> bool:
        return bool(config.flag(self.env, config.APP_DEBUG.format(prefix=self.env_prefix)))

    # --- commands -----------------------------------------------------------------

    def command(self, name: str, *, attributes: Mapping[str, Any] | None = None) -> CommandContext:
        """A context manager around one command: ``with telemetry.command("transcribe"):``.

        The span records how the block ended (see ``otel_cli_telemetry.command``); any
        exception, ``SystemExit`` included, propagates unchanged.
        """
        return CommandContext(self, name, attributes)

    def track(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator form: ``@telemetry.track("transcribe")``; the name defaults to the
        function's. An integer return value is taken as the exit code."""

        def decorate(func: F) -> F:
            command_name = name or func.__name__.replace("_", "-")

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.command(command_name) as handle:
                    result = func(*args, **kwargs)
                    if isinstance(result, int) and not isinstance(result, bool):
                        handle.exit_code = result
                    return result

            return cast("F", wrapper)

        return decorate

    def _pipeline_for_run(self) -> Pipeline:
        capture = _capture.get()
        if capture is not None:
            # The test kit is capturing: a separate pipeline that never touches the disk.
            if (
                self._capture_pipeline is None
                or self._capture_pipeline.options.capture is not capture
            ):
                from .pipeline import Pipeline, PipelineOptions

                self._capture_pipeline = Pipeline(
                    PipelineOptions(
                        service_name=self.service_name,
                        service_version=self.version,
                        env_prefix=self.env_prefix,
                        paths=self.paths,
                        destinations=[],
                        debug=False,
                        env=self.env,
                        capture=capture,
                        identity_linking=self.identity_linking,
                    )
                )
            return self._capture_pipeline
        if self._pipeline is None:
            from .pipeline import Pipeline, PipelineOptions

            self._pipeline = Pipeline(
                PipelineOptions(
                    service_name=self.service_name,
                    service_version=self.version,
                    env_prefix=self.env_prefix,
                    paths=self.paths,
                    destinations=self.destinations(),
                    debug=self.debug(),
                    env=self.env,
                    spawn=self._spawn,
                    identity_linking=self.identity_linking,
                )
            )
        return self._pipeline

    @property
    def tracer(self) -> Tracer:
        """A tracer whose spans, started inside a command, are children of the command span.

        When telemetry is off it is a no-op tracer that imports nothing from OpenTelemetry.
        """
        decision = self._last_decision or self.consent()
        if decision.enabled:
            return self._pipeline_for_run().tracer
        from ._noop import NoOpTracer

        return cast("Tracer", NoOpTracer())

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
        from . import destination as destination_mod
        from . import identity, spool

        posthog_queue = next(
            (q for q, d in destination_mod.queues(self.paths, self.destinations())
             if d.kind == destination_mod.POSTHOG),
            None,
        )  # fmt: skip

        def queue_alias(anonymous_id: str, principal: str) -> None:
            if posthog_queue is None:
                return
            import time

            from .sinks.posthog import alias_request

            request = alias_request(anonymous_id, principal, time.time_ns())
            spool.write(posthog_queue.spool_dir, spool.dumps(request))

        state.ensure_dir(self.paths.home)
        linked = identity.link(self.paths, principal_id, on_alias=queue_alias)
        # The next command's resource carries the new identity.
        self._pipeline = self._capture_pipeline = None
        return linked

    def unlink_identity(self) -> None:
        """Call on logout: forget the principal and rotate the anonymous installation id."""
        if not self.consent().enabled:
            return
        from . import identity

        state.ensure_dir(self.paths.home)
        identity.unlink(self.paths)
        self._pipeline = self._capture_pipeline = None

    def notice_text(self) -> str:
        """The first-run notice (the author's, or a plain default)."""
        if self._notice:
            return self._notice
        prefix = self.env_prefix
        return (
            f"{self.app_name} collects anonymous usage data: the command name, how it ended, "
            "its duration, OS, runtime and CI; never arguments, paths or names.\n"
            f"See what is sent: {self.app_name} telemetry show. Turn it off: "
            f"{prefix}_TELEMETRY_DISABLED=1 or DO_NOT_TRACK=1 "
            f"or {self.app_name} telemetry disable."
        )

    def _maybe_show_notice(self) -> None:
        """Tell the user once (per notice version) that telemetry is on, on stderr."""
        if self._noticed or self.show_notice == "never" or _capture.get() is not None:
            return
        self._noticed = True
        if self.show_notice == "auto":
            try:
                if not sys.stderr.isatty():
                    return
            except (AttributeError, ValueError):
                return
        config_file = self.paths.config_file
        values = state.read_config(config_file)
        shown = values.get("notice_version_shown")
        if isinstance(shown, int) and not isinstance(shown, bool) and shown >= self.notice_version:
            return
        values["notice_version_shown"] = self.notice_version
        try:
            state.write_config(config_file, values)
        except OSError:
            return  # cannot remember it: better silent than repeating it on every run
        sys.stderr.write(self.notice_text() + "\n")
        sys.stderr.flush()

    def child_env(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """A copy of the environment for a subprocess, carrying the current trace context
        (``TRACEPARENT``/``TRACESTATE``) so a traced child joins this command's trace.

        When telemetry is off, a plain copy (an inherited ``TRACEPARENT`` passes through).
        """
        result = dict(os.environ if env is None else env)
        decision = self._last_decision
        if decision is None or not decision.enabled or not _active.get():
            return result
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        if "traceparent" in carrier:
            result[config.TRACEPARENT] = carrier["traceparent"]
            if carrier.get("tracestate"):
                result[config.TRACESTATE] = carrier["tracestate"]
            else:
                result.pop(config.TRACESTATE, None)
        return result

    def install_global_tracer_provider(self) -> bool:
        """Opt in to making our private provider OpenTelemetry's global one, so spans made
        with ``opentelemetry.trace.get_tracer(...)`` inside a command ship with it.

        OpenTelemetry allows this once per process. Returns False (and does nothing) when
        telemetry is off or another provider is already global.
        """
        if not self.consent().enabled:
            return False
        from opentelemetry import trace

        provider = self._pipeline_for_run().provider
        if trace.get_tracer_provider() is provider:
            return True
        if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            return False
        trace.set_tracer_provider(provider)
        return trace.get_tracer_provider() is provider

    # --- the consent commands -----------------------------------------------------

    def status(self) -> Status:
        decision = self.consent()
        paths = self.paths
        from . import delivery, spool
        from . import destination as destination_mod

        destinations = self.destinations()
        queues = [q for q, _ in destination_mod.queues(paths, destinations)]
        return Status(
            enabled=decision.enabled,
            rule=decision.rule,
            detail=decision.detail,
            home=paths.home,
            config_file=paths.config_file,
            destination="; ".join(d.describe() for d in destinations),
            debug=self.debug(),
            spooled=sum(len(spool.entries(q.spool_dir)) for q in queues),
            delivery=delivery.load(paths.delivery_file).to_json(),
        )

    def enable(self) -> consent_mod.Decision:
        """Persist "on" (environment variables still win) and return the new decision."""
        consent_mod.persist(self.paths.config_file, True)
        return self.consent()

    def disable(self) -> consent_mod.Decision:
        """Persist "off" and return the new decision."""
        consent_mod.persist(self.paths.config_file, False)
        return self.consent()

    def flush(
        self, timeout: float | None = None, *, progress: Callable[[Report], None] | None = None
    ) -> Report:
        """Deliver the spool now, in the foreground, waiting for a running exporter.

        For CI jobs that want their spans sent before the runner goes away. Ignores the
        back-off (the user asked) but honours the deadline (default: the export deadline).
        """
        from .drain import drain_all

        destinations = self.destinations()
        limit = timeout if timeout is not None else destinations[0].deadline_s
        return drain_all(self.paths, destinations, timeout_s=limit, progress=progress)


class CommandHandle:
    """Yielded by ``telemetry.command()``: lets a command report an exit code it returns
    instead of raising (``handle.exit_code = 3``)."""

    def __init__(self) -> None:
        self.exit_code: int | None = None
        self.recording = False
        #: What escaped the command's own code, when a framework turned it into a
        #: different exit (click turns Ctrl-C into exit 1): outcome and error.type come from
        #: it, the exit code from what the process really does.
        self.inner_exception: BaseException | None = None
        #: Allow-listed option names given on the command line (framework integrations).
        self.options: set[str] = set()
        self._span: CommandSpan | None = None

    def set_name(self, name: str) -> None:
        """Rename the command once it is known (frameworks resolve subcommands late)."""
        if self._span is not None:
            self._span.rename(name)

    def discard(self) -> None:
        """Record nothing for this run (used for the ``telemetry`` commands themselves)."""
        if self._span is not None:
            self._span.discard()

    def set_attribute(self, key: str, value: Any) -> None:
        """Add an attribute to the command span (the author's responsibility: no secrets)."""
        if self._span is not None:
            from .attributes import clean_user_attributes

            cleaned, _ = clean_user_attributes({key: value})
            if cleaned:
                self._span.span.set_attributes(cleaned)


class CommandContext:
    """The context manager behind ``telemetry.command()``; reusable, not reentrant."""

    def __init__(
        self, telemetry: Telemetry, name: str, attributes: Mapping[str, Any] | None
    ) -> None:
        self._telemetry = telemetry
        self._name = name
        self._attributes = attributes
        self._span: CommandSpan | None = None
        self._handle = CommandHandle()
        self._token: contextvars.Token[tuple[int, ...]] | None = None

    def __enter__(self) -> CommandHandle:
        self._handle = CommandHandle()
        self._span = None
        try:
            if self._telemetry.consent().enabled:
                active = _active.get()
                root = id(self._telemetry) not in active
                if root:
                    self._telemetry._maybe_show_notice()
                pipeline = self._telemetry._pipeline_for_run()
                self._span = pipeline.start(self._name, root=root, extra=self._attributes)
                self._token = _active.set((*active, id(self._telemetry)))
                self._handle.recording = True
                self._handle._span = self._span
        except Exception:  # noqa: BLE001 - telemetry must never break the command
            self._span = None
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span, self._span = self._span, None
        token, self._token = self._token, None
        if span is None:
            return
        try:
            if token is not None:
                _active.reset(token)
            default = self._handle.exit_code or 0
            outcome = command.classify(exc, default_code=default)
            inner = self._handle.inner_exception
            if inner is not None and outcome.code != 0:
                seen = command.classify(inner)
                if seen.code != 0:
                    outcome = command.Exit(outcome.code, seen.outcome, seen.error_type)
            span.finish(outcome)
        except Exception:  # noqa: BLE001, S110 - never replace the host's exception with ours
            pass
        # Returning None lets the host's exception (SystemExit included) propagate.
