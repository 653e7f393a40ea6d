"""What a command's span inherits from its caller, with the standard library: the
environment carriers (spec ``context/env-carriers.md``), ``TRACEPARENT``/``TRACESTATE``
parsed with the W3C propagator's rules and ``BAGGAGE`` checked and passed on
(``propagation`` does the same through OpenTelemetry's propagators once the SDK runs;
``OTEL_PROPAGATORS`` applies to both). Loaded only when a caller passed a context, or a
subprocess is to get one; the ids and the sampling decision are in ``light``.
"""

from otel_cli_telemetry._process.light import SpanIds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def remote_parent(env: "Mapping[str, str]") -> "SpanIds | None":
    """The caller's span from ``TRACEPARENT``/``TRACESTATE`` (spec env carriers), parsed
    with the W3C propagator's rules; None when unset or invalid (never fatal)."""
    from otel_cli_telemetry._process import config

    header = config.get(env, config.TRACEPARENT)
    if header is None or len(header) > 512:
        return None
    if "tracecontext" not in config.propagators_from_env(env):
        return None
    import re  # only when a caller passed a trace context

    match = re.fullmatch(
        r"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:(-.*)|[ \t]*)", header
    )
    if not match:
        config.warn_once(config.TRACEPARENT, "invalid value ignored")
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if trace_id == "0" * 32 or span_id == "0" * 16 or version == "ff" or (version == "00" and rest):
        config.warn_once(config.TRACEPARENT, "invalid value ignored")
        return None
    return SpanIds(
        int(trace_id, 16),
        int(span_id, 16),
        int(flags, 16),
        _trace_state(config.get(env, config.TRACESTATE)),
        is_remote=True,
    )


_KEY = r"[a-z][_0-9a-z\-\*\/]{0,255}|[a-z0-9][_0-9a-z\-\*\/]{0,240}@[a-z][_0-9a-z\-\*\/]{0,13}"
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"


def _trace_state(header: "str | None") -> "str | None":
    """``TRACESTATE`` as the W3C propagator keeps it: all members or, if one is invalid
    or a key repeats, none; at most 32 members; re-joined without blanks."""
    if header is None or len(header) > 8192:
        return None
    import re

    member = re.compile(f"({_KEY})=({_VALUE})")
    pairs: dict[str, str] = {}
    for raw in header.split(","):
        raw = raw.strip(" \t")
        if not raw:
            continue
        found = member.fullmatch(raw)
        if not found or found.group(1) in pairs:
            return None
        pairs[found.group(1)] = found.group(2)
    if len(pairs) > 32:
        return None
    return ",".join(f"{k}={v}" for k, v in pairs.items()) or None


#: W3C baggage limits (the Python propagator's): header size and number of members.
MAX_BAGGAGE_BYTES = 8192
MAX_BAGGAGE_MEMBERS = 180


def light_baggage(env: "Mapping[str, str]") -> "str | None":
    """``BAGGAGE`` for the light path, without OpenTelemetry: the members of the W3C
    ``key=value[;properties]`` shape, at most 180 in 8192 bytes, passed on as they came
    (values are opaque); None when there is none or ``OTEL_PROPAGATORS`` leaves it out."""
    from otel_cli_telemetry._process import config

    header = config.get(env, config.BAGGAGE)
    if header is None or len(header.encode("utf-8", "replace")) > MAX_BAGGAGE_BYTES:
        return None
    if "baggage" not in config.propagators_from_env(env):
        return None
    import re

    key = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # an RFC 7230 token
    octets = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"  # W3C baggage-octet
    member = re.compile(rf"[ \t]*{key}[ \t]*=[ \t]*{octets}[ \t]*(;.*)?")
    kept = [m.strip(" \t") for m in header.split(",") if member.fullmatch(m)]
    if len(kept) != len([m for m in header.split(",") if m.strip(" \t")]):
        config.warn_once(config.BAGGAGE, "malformed members ignored")
    return ",".join(kept[:MAX_BAGGAGE_MEMBERS]) or None
