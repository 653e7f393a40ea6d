"""The light command span: what the OTLP encoder reads of a span (``context``, ``parent``,
``kind``, ``status``, ``resource``, ``instrumentation_scope``...), recorded with the standard
library (ids from ``os.urandom``, times from ``time.time_ns``) so that a command that makes
no child span never imports OpenTelemetry. ``recorder`` starts and ends it.

Whether it is recorded is decided here too, at command start: the spec's samplers
(``OTEL_TRACES_SAMPLER``), deciding exactly as the SDK's samplers do, and the author's
``sample_rate=`` (per installation). A sampled-out command costs what a disabled one costs:
its span is never registered with the gate, so nothing is encoded, spooled or spawned.
``sdk.Pipeline`` gives the SDK the equivalent samplers.
"""

import os
import time

from otel_cli_telemetry._process import attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from otel_cli_telemetry._process.config import Limits

#: W3C trace flags: sampled.
SAMPLED = 0x01
#: The Python SDK's ``TraceIdRatioBased`` looks at the 64 low-order bits of the trace id.
TRACE_ID_LIMIT = (1 << 64) - 1


def ratio_bound(ratio: float) -> int:
    """``TraceIdRatioBased.get_bound_for_rate``: trace ids whose low 64 bits are below this
    are sampled."""
    return round(ratio * (TRACE_ID_LIMIT + 1))


def decide(sampler: str, ratio: float, trace_id: int, parent: "SpanIds | None") -> bool:
    """The decision of the named spec sampler for a span of ``trace_id`` whose parent is
    ``parent`` (None for a root): ``parentbased_*`` follow a parent's sampled flag, remote
    or local (the SDK's ``ParentBased`` defaults), and use their root sampler otherwise."""
    if sampler.startswith("parentbased_"):
        if parent is not None:
            return bool(parent.trace_flags & SAMPLED)
        sampler = sampler[len("parentbased_") :]
    if sampler == "always_on":
        return True
    if sampler == "always_off":
        return False
    return trace_id & TRACE_ID_LIMIT < ratio_bound(ratio)


def installation_sampled(installation_id: "str | None", rate: float) -> bool:
    """The author's ``sample_rate``, decided once per installation: the same installation
    id always gets the same answer, so a sampled-in user stays in (and their commands can
    be counted as sessions). Without an id (unreadable state) the installation is in."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    if not installation_id:
        return True
    import hashlib

    digest = hashlib.sha256(b"otel-cli-telemetry/sample-rate\0" + installation_id.encode())
    return int.from_bytes(digest.digest()[:8], "big") < round(rate * (1 << 64))


#: W3C trace flags: sampled (the sampler said so, see ``decide``) and, from trace context
#: level 2, "the trace id is random" (ours are; a parent's bit is inherited), as the SDK
#: sets them.
RANDOM_TRACE_ID = 0x02


class SpanIds:
    """What ``SpanContext`` carries: ids, flags, trace state (a W3C header string)."""

    __slots__ = ("is_remote", "span_id", "trace_flags", "trace_id", "trace_state")

    def __init__(
        self,
        trace_id: int,
        span_id: int,
        trace_flags: int = SAMPLED | RANDOM_TRACE_ID,
        trace_state: "str | None" = None,
        is_remote: bool = False,
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_flags = trace_flags
        self.trace_state = trace_state
        self.is_remote = is_remote


_INTERNAL = 0  # SpanKind.INTERNAL
UNSET, ERROR = 0, 2  # StatusCode


class Value:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


class Status:
    __slots__ = ("description", "status_code")

    def __init__(self, code: int = UNSET, description: "str | None" = None) -> None:
        self.status_code = Value(code)
        self.description = description


class Scope:
    __slots__ = ("name", "version")

    def __init__(self) -> None:
        self.name = attributes.SCOPE_NAME
        self.version = attributes.SCOPE_VERSION


class Resource:
    __slots__ = ("attributes",)

    def __init__(self, attrs: "dict[str, Any]") -> None:
        self.attributes = attrs


class LightSpan:
    """A finished or running command span with the fields the encoder reads."""

    kind = Value(_INTERNAL)
    events = ()
    links = ()

    def __init__(
        self,
        name: str,
        context: "SpanIds",
        parent: "SpanIds | None",
        attrs: "dict[str, Any]",
        resource: Resource,
        limits: "Limits",
    ) -> None:
        self.name = name
        self.limits = limits
        self.context = context
        self.parent = parent
        self.attributes: dict[str, Any] = {}
        self.dropped_attributes = 0
        self.set_attributes(attrs)
        self.resource = resource
        self.instrumentation_scope = Scope()
        self.status = Status()
        self.start_time = time.time_ns()
        self.end_time: int | None = None

    def set_attributes(self, values: "Mapping[str, Any]") -> None:
        """As the SDK's ``BoundedAttributes``: strings cut to the value length limit, and
        when the span is full a new key evicts the oldest one (counted as dropped)."""
        limit = self.limits.span_attributes
        length = self.limits.value_length
        attrs = self.attributes
        for key, value in values.items():
            if limit == 0:
                self.dropped_attributes += 1
                continue
            if length is not None:
                value = truncate(value, length)
            if key in attrs:
                del attrs[key]
            elif limit is not None and len(attrs) >= limit:
                del attrs[next(iter(attrs))]
                self.dropped_attributes += 1
            attrs[key] = value


def truncate(value: "Any", length: int) -> "Any":
    if isinstance(value, str):
        return value[:length]
    if isinstance(value, tuple):
        return tuple(v[:length] if isinstance(v, str) else v for v in value)
    return value


def random_id(nbytes: int) -> int:
    while True:
        value = int.from_bytes(os.urandom(nbytes), "big")
        if value:
            return value
