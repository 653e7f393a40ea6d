"""Trace context and baggage through environment variables (spec ``context/env-carriers.md``):
``TRACEPARENT``/``TRACESTATE``/``BAGGAGE`` in, to join a caller's trace; and out, for
subprocesses. ``OTEL_PROPAGATORS`` picks which (``tracecontext,baggage`` by default, ``none``
for neither).

Imported only on the SDK path; the W3C propagators are imported only when used. The light
recorder carries the same variables without it (``trace_context``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api

from otel_cli_telemetry._process import config

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import TextMapPropagator


def _propagators(names: tuple[str, ...]) -> list[TextMapPropagator]:
    found: list[TextMapPropagator] = []
    if "tracecontext" in names:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        found.append(TraceContextTextMapPropagator())
    if "baggage" in names:
        from opentelemetry.baggage.propagation import W3CBaggagePropagator

        found.append(W3CBaggagePropagator())
    return found


def extract(env: Mapping[str, str]) -> context_api.Context | None:
    """A context carrying the remote parent named by ``TRACEPARENT`` and the ``BAGGAGE``,
    as ``OTEL_PROPAGATORS`` allows; None when it carries neither (an invalid value is
    ignored, never fatal)."""
    names = config.propagators_from_env(env)
    carrier: dict[str, str] = {}
    for name, key, wanted in (
        (config.TRACEPARENT, "traceparent", "tracecontext"),
        (config.TRACESTATE, "tracestate", "tracecontext"),
        (config.BAGGAGE, "baggage", "baggage"),
    ):
        value = config.get(env, name)
        if value is not None and wanted in names:
            carrier[key] = value
    if not carrier:
        return None
    ctx = context_api.Context()
    for propagator in _propagators(names):
        ctx = propagator.extract(carrier, ctx)
    valid = trace_api.get_current_span(ctx).get_span_context().is_valid
    if "traceparent" in carrier and not valid:
        config.warn_once(config.TRACEPARENT, "invalid value ignored")
    from opentelemetry import baggage

    if not valid and not baggage.get_all(ctx):
        return None
    return ctx


def inject(env: dict[str, str], names: tuple[str, ...] | None = None) -> dict[str, str]:
    """Set ``TRACEPARENT``/``TRACESTATE`` and ``BAGGAGE`` in ``env`` from the current
    context, for the propagators ``OTEL_PROPAGATORS`` names (a stale ``TRACESTATE`` or
    ``BAGGAGE`` is removed); returns ``env``."""
    if names is None:
        names = config.propagators_from_env(env)
    carrier: dict[str, str] = {}
    for propagator in _propagators(names):
        propagator.inject(carrier)
    if "traceparent" in carrier:
        env[config.TRACEPARENT] = carrier["traceparent"]
        if carrier.get("tracestate"):
            env[config.TRACESTATE] = carrier["tracestate"]
        else:
            env.pop(config.TRACESTATE, None)
    if "baggage" in names:
        if carrier.get("baggage"):
            env[config.BAGGAGE] = carrier["baggage"]
        else:
            env.pop(config.BAGGAGE, None)
    return env
