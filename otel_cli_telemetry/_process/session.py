"""What a ``Telemetry`` object does once a command records: the
recorder and hand-off that carry them, the first-run notice, the trace context handed to
subprocesses and the opt-in global provider.

``telemetry.py`` keeps the public face (arguments, consent, the documented methods) and
delegates here, so the off path never loads this module: it is imported the first time a
command records or asks where its spans would go.
"""

import os

from otel_cli_telemetry._disk import consent as consent_mod
from otel_cli_telemetry._process import config
from otel_cli_telemetry._process.run import capture_target, in_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from opentelemetry.trace import Tracer

    from otel_cli_telemetry._process.handoff import Options
    from otel_cli_telemetry._process.host import Host
    from otel_cli_telemetry._process.recorder import Recorder


def recorder_for_run(app: "Host") -> "Recorder":
    """The recorder of this app's command spans (light until the SDK is asked for)."""
    from otel_cli_telemetry._process.handoff import Handoff
    from otel_cli_telemetry._process.recorder import Recorder

    capture = capture_target()
    if capture is not None:
        # The test kit is capturing: a separate hand-off that never touches the disk.
        current = app._capture_recorder
        if current is None or current.handoff.options.capture is not capture:
            current = app._capture_recorder = Recorder(
                Handoff(options(app, destinations=[], debug=False, capture=capture))
            )
        return current
    if app._recorder is None:
        app._recorder = Recorder(
            Handoff(
                options(
                    app,
                    destinations=app._resolved_destinations(),
                    debug=app._debug(),
                    consent_context=consent_context(app),
                    mode=(app._last_decision or app.consent()).mode,
                )
            )
        )
    return app._recorder


def options(app: "Host", **varying: "Any") -> "Options":
    """The hand-off's options: what every command of this app shares, plus ``varying``."""
    from otel_cli_telemetry._process.handoff import Options

    return Options(
        service_name=app.service_name,
        service_version=app.version,
        env_prefix=app.env_prefix,
        paths=app._state_paths,
        env=app.env,
        spawn=app._spawn,
        identity_linking=app.identity_linking,
        sample_rate=app.sample_rate,
        **varying,
    )


def consent_context(app: "Host") -> "dict[str, object]":
    """What the exporter child is told (in the spool record's decision) so that it decides
    again before each attempt as this command did."""
    return consent_mod.context(
        app.env,
        env_prefix=app.env_prefix,
        service_name=app.service_name,
        config_file=app._state_paths.config_file,
        explicit=app._enabled,
    )


def debug(app: "Host") -> bool:
    """``{PREFIX}_TELEMETRY_DEBUG``: print what would be sent and send nothing."""
    return bool(config.flag(app.env, config.APP_DEBUG.format(prefix=app.env_prefix)))


def notice_text(app: "Host") -> str:
    """The first-run notice (the author's, or a plain default)."""
    from otel_cli_telemetry._process import notice as notice_mod

    return app._notice or notice_mod.default_text(
        app.app_name, app.env_prefix, consent_command=app.consent_command
    )


def maybe_show_notice(app: "Host") -> None:
    """Tell the user once (per notice version) that telemetry is on, on stderr."""
    if app._noticed or app.show_notice == "never" or capture_target() is not None:
        return
    app._noticed = True
    if app.show_notice == "auto" and not _stderr_is_terminal():
        return  # the common case in scripts and CI: not even the module is loaded
    from otel_cli_telemetry._process import notice as notice_mod

    notice_mod.show_once(
        app.notice_text(),
        app._state_paths.config_file,
        version=app.notice_version,
        only_on_terminal=app.show_notice == "auto",
    )


def _stderr_is_terminal() -> bool:
    import sys

    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def child_env(app: "Host", env: "Mapping[str, str] | None") -> dict[str, str]:
    """``Telemetry.child_env``: a copy of the environment carrying the current trace context
    and baggage while a command records; a plain copy otherwise."""
    result = dict(os.environ if env is None else env)
    decision = app._last_decision
    if decision is None or not decision.enabled or not in_command():
        return result
    light = _carriers(app._recorder_for_run(), app.env)
    if light is not None:  # no SDK needed for the command span's own context
        for name, value in light.items():
            if value:
                result[name] = value
            else:
                result.pop(name, None)
        return result
    from otel_cli_telemetry._process import propagation

    return propagation.inject(result, config.propagators_from_env(app.env))


def sdk_tracer(app: "Host") -> "Tracer":
    """``Telemetry.tracer`` when telemetry is on: the command asks for the SDK, and its open
    command spans continue as SDK spans."""
    return app._recorder_for_run().sdk().tracer


def install_global_tracer_provider(app: "Host") -> bool:
    """``Telemetry.install_global_tracer_provider``: make our provider the global one, once
    per process, when telemetry is on and no other provider is global."""
    if not app.consent().enabled:
        return False
    from opentelemetry import trace

    provider = app._recorder_for_run().sdk().provider
    if trace.get_tracer_provider() is provider:
        return True
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return False
    trace.set_tracer_provider(provider)
    return trace.get_tracer_provider() is provider


def _carriers(recorder: "Recorder", env: "Mapping[str, str]") -> "dict[str, str | None] | None":
    """``TRACEPARENT``/``TRACESTATE``/``BAGGAGE`` for a subprocess (None: remove it), from
    the innermost open command span and the caller's baggage, as ``OTEL_PROPAGATORS``
    allows, without the SDK; None once the SDK runs (then the current context decides)."""
    span = recorder.light_context()
    if span is None:
        return None
    from otel_cli_telemetry._process.trace_context import light_baggage

    names = config.propagators_from_env(env)
    out: dict[str, str | None] = {}
    if "tracecontext" in names:
        ids = span.context
        out[config.TRACEPARENT] = (
            f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags & 0xFF:02x}"
        )
        out[config.TRACESTATE] = ids.trace_state
    if "baggage" in names:
        out[config.BAGGAGE] = light_baggage(env)
    return out
