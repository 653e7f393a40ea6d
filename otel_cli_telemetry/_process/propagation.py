"""Trace context through environment variables (spec ``context/env-carriers.md``):
``TRACEPARENT``/``TRACESTATE`` in, to join a caller's trace; and out, for subprocesses.

Imported only on the enabled path; the W3C propagator is imported only when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api

from otel_cli_telemetry._process import config

if TYPE_CHECKING:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


def _propagator() -> TraceContextTextMapPropagator:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def extract(env: Mapping[str, str]) -> context_api.Context | None:
    """A context carrying the remote parent named by ``TRACEPARENT``; None if unset or
    invalid (an invalid value is ignored, never fatal)."""
    traceparent = config.get(env, config.TRACEPARENT)
    if traceparent is None:
        return None
    carrier = {"traceparent": traceparent}
    tracestate = config.get(env, config.TRACESTATE)
    if tracestate is not None:
        carrier["tracestate"] = tracestate
    ctx = _propagator().extract(carrier)
    if not trace_api.get_current_span(ctx).get_span_context().is_valid:
        config.warn_once(config.TRACEPARENT, "invalid value ignored")
        return None
    return ctx


def inject(env: dict[str, str]) -> dict[str, str]:
    """Set ``TRACEPARENT`` (and ``TRACESTATE``, or remove a stale one) in ``env`` from the
    current context; returns ``env``."""
    carrier: dict[str, str] = {}
    _propagator().inject(carrier)
    if "traceparent" in carrier:
        env[config.TRACEPARENT] = carrier["traceparent"]
        if carrier.get("tracestate"):
            env[config.TRACESTATE] = carrier["tracestate"]
        else:
            env.pop(config.TRACESTATE, None)
    return env
