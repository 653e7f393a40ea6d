"""Which command spans are recorded: the spec's samplers (``OTEL_TRACES_SAMPLER``), decided
with the standard library at command start, exactly as the SDK's samplers decide; and the
author's ``sample_rate=`` (per installation).

A sampled-out command costs what a disabled one costs: its span is never registered with the
gate, so nothing is encoded, spooled or spawned. ``sdk.Pipeline`` gives the SDK the
equivalent samplers, so a command that asks for the SDK decides the same way.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._process.carriers import SpanIds

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
