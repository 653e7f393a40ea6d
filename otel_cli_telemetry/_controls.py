"""The controls of a ``Telemetry`` object beside recording commands: where its data lives
and goes, identity linking, the notice, trace context for subprocesses, the global
provider, and the consent commands (``status``, ``enable``, ``disable``, ``local``,
``reset``, ``disclosure``, ``flush``).

``Telemetry`` inherits them. Each method loads the code that does its work when called, so
this module costs the off path its own import and nothing more.
"""

import os

from otel_cli_telemetry._disk import consent as consent_mod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from otel_cli_telemetry._admin.status import Status
    from otel_cli_telemetry._process.host import Host
    from otel_cli_telemetry.records import Change, FlushReport, Paths, ResolvedDestination


class Controls:
    """What ``Telemetry`` offers besides ``command``, ``track`` and ``tracer``."""

    @property
    def paths(self: "Host") -> "Paths":
        """Where this app keeps its config, state and spool (resolved once): an immutable
        ``otel_cli_telemetry.Paths``."""
        from otel_cli_telemetry.records import Paths

        return Paths.of(self._state_paths)

    def destinations(self: "Host") -> "list[ResolvedDestination]":
        """Where spans go, resolved against the environment: the listed destinations and
        those the environment configures (``OTEL_EXPORTER_OTLP_*``, the app's Datadog token),
        else the local file sink (also in local mode, and in CI with ``ci_policy="local"``).
        Immutable records; headers and tokens are kept but never shown in their repr."""
        from otel_cli_telemetry.records import ResolvedDestination

        return [ResolvedDestination.of(d) for d in self._resolved_destinations()]

    # --- identity -------------------------------------------------------------------

    def link_identity(self: "Host", principal_id: str | None) -> bool:
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

    def unlink_identity(self: "Host") -> None:
        """Call on logout: forget the principal and rotate the anonymous installation id."""
        if self.consent().enabled:
            from otel_cli_telemetry._admin import actions

            actions.unlink_identity(self)

    # --- the consent commands -----------------------------------------------------

    def status(self: "Host") -> "Status":
        """Whether telemetry is on, in which mode, which rule decided, and what is on disk
        where. Records nothing; works with telemetry off."""
        from otel_cli_telemetry._admin import actions

        return actions.status(self)

    def enable(self: "Host") -> consent_mod.Decision:
        """Persist "on" (environment variables and the machine policy still win) and return
        the new decision. Raises ``otel_cli_telemetry.UnsafeHomeError`` when the state dir
        could be swapped or written by someone else (nothing is written then)."""
        from otel_cli_telemetry._process.consent import persist

        persist(self._state_paths.config_file, consent_mod.ON)
        return self.consent()

    def disable(self: "Host") -> "Change":
        """Persist "off", delete every trace waiting to be sent, and return the new decision
        with how many spans were deleted (``deleted_spans``)."""
        from otel_cli_telemetry._admin import actions

        return actions.withdraw(self, consent_mod.OFF)

    def local(self: "Host") -> "Change":
        """Persist "local" (record to the local file sink only, send nothing), delete every
        trace waiting to be sent elsewhere, and return the new decision with the count."""
        from otel_cli_telemetry._admin import actions

        return actions.withdraw(self, consent_mod.LOCAL)

    def reset(self: "Host") -> list[str]:
        """Forget this installation: delete the installation id (a new one is minted on the
        next recorded command), any linked account, every queue, the local file sink and the
        delivery state. The choice (``config.toml``) is kept. Returns what was deleted.
        Records and sends nothing; works with telemetry off."""
        from otel_cli_telemetry._admin import actions

        return actions.reset(self)

    def disclosure(self: "Host", *, every_destination: bool = False) -> str:
        """Every field this app can send, as Markdown (generated from the allow-lists the
        code uses, plus ``declared_attributes``), for the destinations it is configured for
        (``every_destination=True``: for all of them, as the README lists them)."""
        from otel_cli_telemetry._admin.disclosure import configured_kinds, render

        kinds = None if every_destination else configured_kinds(self)
        return render(self.declared_attributes, kinds)

    def flush(
        self: "Host",
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

    def notice_text(self: "Host") -> str:
        """The first-run notice (the author's, or a plain default)."""
        from otel_cli_telemetry._process import session

        return session.notice_text(self)

    def child_env(self: "Host", env: "Mapping[str, str] | None" = None) -> dict[str, str]:
        """A copy of the environment for a subprocess, carrying the current trace context
        and baggage (``TRACEPARENT``/``TRACESTATE``/``BAGGAGE``, as ``OTEL_PROPAGATORS``
        allows) so a traced child joins this command's trace.

        When telemetry is off, a plain copy (an inherited ``TRACEPARENT`` passes through).
        """
        decision = self._last_decision
        if decision is None or not decision.enabled:
            return dict(os.environ if env is None else env)  # the off path loads nothing more
        from otel_cli_telemetry._process import session

        return session.child_env(self, env)

    def install_global_tracer_provider(self: "Host") -> bool:
        """Opt in to making our private provider OpenTelemetry's global one, so spans made
        with ``opentelemetry.trace.get_tracer(...)`` inside a command ship with it.

        OpenTelemetry allows this once per process. Returns False (and does nothing) when
        telemetry is off or another provider is already global.
        """
        from otel_cli_telemetry._process import session

        return session.install_global_tracer_provider(self)
