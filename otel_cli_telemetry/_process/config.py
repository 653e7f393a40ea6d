"""Every environment variable the library reads, and how its values are parsed (the OTLP
exporter's values in ``otlp_env``, which loads only when a command records).

Precedence, everywhere: explicit constructor argument > the app's own variable
(``{PREFIX}_TELEMETRY_*``) > standard ``OTEL_*`` / ``DO_NOT_TRACK`` > the persisted
config file > the default. An empty value counts as unset. A value that cannot be
parsed is logged once at debug level and the default is used instead.

This module must stay cheap to import: it is read on the disabled path too, which imports
nothing the interpreter did not load at start-up (no ``from __future__``, ``typing``, ``re``
or ``logging`` at module level; annotations that need them are strings).
"""

from otel_cli_telemetry._disk import contract
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# The names both sides share, from the on-disk contract (``_disk.contract``).
APP_DISABLED = contract.APP_DISABLED
APP_HOME = contract.APP_HOME
APP_MODE = contract.APP_MODE
CHILD_MARKER = contract.CHILD_MARKER
DEFAULT_EXPORT_DEADLINE_S = contract.DEFAULT_EXPORT_DEADLINE_S
DEFAULT_PROTOCOL = contract.DEFAULT_PROTOCOL
DEFAULT_TIMEOUT_S = contract.DEFAULT_TIMEOUT_S
DO_NOT_TRACK = contract.DO_NOT_TRACK
GRPC = contract.GRPC
OTEL_SDK_DISABLED = contract.OTEL_SDK_DISABLED
OTEL_TRACES_EXPORTER = contract.OTEL_TRACES_EXPORTER
POLICY_APP_DIR = contract.POLICY_APP_DIR
POLICY_FILE = contract.POLICY_FILE
POLICY_FILE_NAME = contract.POLICY_FILE_NAME
PROTOCOLS = contract.PROTOCOLS
flag = contract.flag
get = contract.get
policy_default_path = contract.policy_default_path
policy_path = contract.policy_path
env_prefix_for = contract.env_prefix_for
warn_once = contract.warn_once

# --- the app's own switches; ``{prefix}`` is the author's ``env_prefix`` -------------
# The names both processes read (consent, the state dir, protocols) are in ``_disk.contract``.
#: ``1``: print what would be sent (OTLP JSON) to stderr and send nothing.
APP_DEBUG = "{prefix}_TELEMETRY_DEBUG"
#: Datadog client token (``pub`` + 32 hex); overrides ``Datadog(client_token=...)``.
APP_DATADOG_TOKEN = "{prefix}_TELEMETRY_DATADOG_CLIENT_TOKEN"  # noqa: S105 - a name
#: A company's intake proxy, as Datadog documents it: logs are POSTed to this URL with the
#: intake path and parameters URL-encoded in a ``ddforward`` query parameter.
APP_DATADOG_URL = "{prefix}_TELEMETRY_DATADOG_URL"
#: Datadog site (``datadoghq.com``, ``datadoghq.eu``, ``us3.datadoghq.com``, ...).
DD_SITE = "DD_SITE"

# --- cross-tool conventions --------------------------------------------------------
OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
OTEL_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
TRACEPARENT = "TRACEPARENT"
TRACESTATE = "TRACESTATE"
#: W3C baggage through the environment (spec ``context/env-carriers.md``), in and out.
BAGGAGE = "BAGGAGE"
#: ``tracecontext,baggage`` by default; ``none`` carries nothing in or out. Other
#: propagators (b3, jaeger, xray) are ignored with a debug note.
OTEL_PROPAGATORS = "OTEL_PROPAGATORS"

# --- sampling (SDK spec: configuration/sdk-environment-variables.md) -----------------
OTEL_TRACES_SAMPLER = "OTEL_TRACES_SAMPLER"
#: The ratio of ``traceidratio`` and ``parentbased_traceidratio``, 0.0 to 1.0 (default 1.0).
OTEL_TRACES_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"
SAMPLERS = (
    "always_on", "always_off", "traceidratio",
    "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
)  # fmt: skip
DEFAULT_SAMPLER = "parentbased_always_on"

# --- span limits (SDK spec: attribute, event and link limits) ------------------------
ATTRIBUTE_VALUE_LENGTH_LIMIT = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"
ATTRIBUTE_COUNT_LIMIT = "OTEL_ATTRIBUTE_COUNT_LIMIT"
SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT = "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT"
SPAN_ATTRIBUTE_COUNT_LIMIT = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"
SPAN_EVENT_COUNT_LIMIT = "OTEL_SPAN_EVENT_COUNT_LIMIT"
SPAN_LINK_COUNT_LIMIT = "OTEL_SPAN_LINK_COUNT_LIMIT"
EVENT_ATTRIBUTE_COUNT_LIMIT = "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"
LINK_ATTRIBUTE_COUNT_LIMIT = "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"
#: Our defaults where unset: the spec's 128 for counts, but 32 events and 32 links per span
#: and 1024 characters per string value (the spec: no limit), to bound a spool file.
DEFAULT_ATTRIBUTE_COUNT = 128
DEFAULT_EVENT_COUNT = 32
DEFAULT_LINK_COUNT = 32
DEFAULT_VALUE_LENGTH = 1024

# --- OTLP exporter (specification: protocol/exporter.md) ----------------------------
OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
OTLP_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
OTLP_TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
OTLP_TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
OTLP_TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT"
OTLP_TRACES_TIMEOUT = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
OTLP_COMPRESSION = "OTEL_EXPORTER_OTLP_COMPRESSION"
OTLP_TRACES_COMPRESSION = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
#: PEM file of the CA (or server certificate) to trust, instead of the system store.
OTLP_CERTIFICATE = "OTEL_EXPORTER_OTLP_CERTIFICATE"
OTLP_TRACES_CERTIFICATE = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"
#: PEM client certificate and key, for mutual TLS.
OTLP_CLIENT_CERTIFICATE = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"
OTLP_TRACES_CLIENT_CERTIFICATE = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"
OTLP_CLIENT_KEY = "OTEL_EXPORTER_OTLP_CLIENT_KEY"
OTLP_TRACES_CLIENT_KEY = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"
#: OTLP/gRPC only, for an endpoint without a scheme: ``true`` means plaintext (default TLS).
OTLP_INSECURE = "OTEL_EXPORTER_OTLP_INSECURE"
OTLP_TRACES_INSECURE = "OTEL_EXPORTER_OTLP_TRACES_INSECURE"


#: ``OTEL_EXPORTER_OTLP_TIMEOUT=0`` (no limit): a day, so the export deadline always decides.
NO_TIMEOUT_S = 86400.0


def destination_variables(env_prefix: str) -> "tuple[str, ...]":
    """The variables that alone add a destination (``destinations.FROM_ENV``): an OTLP
    endpoint, the app's Datadog client token."""
    return (OTLP_TRACES_ENDPOINT, OTLP_ENDPOINT, APP_DATADOG_TOKEN.format(prefix=env_prefix))


def configures_a_destination(env: "Mapping[str, str]", env_prefix: str) -> bool:
    """Whether the environment names a destination. When it does not and the app lists none,
    spans go to the local file sink and a command need not load ``destinations``."""
    return any(get(env, name) is not None for name in destination_variables(env_prefix))


def grpc_target(raw: str, *, insecure: bool) -> tuple[str, bool] | None:
    """An OTLP/gRPC endpoint as the spec and the Python SDK read it: no ``v1/traces``; with
    an ``http``/``https`` scheme the host and port are the target and a path or query is
    ignored (gRPC has none), the scheme deciding TLS (``http`` plaintext); without a scheme,
    ``host:port`` as given, ``insecure`` (``OTEL_EXPORTER_OTLP_INSECURE``) deciding, and the
    URL written with the matching scheme. ``(url, plaintext)``, or None when no usable
    target is there (another scheme, no host, userinfo, a path after a bare host:port)."""
    scheme, sep, rest = raw.strip().partition("://")
    if not sep:
        scheme, rest = ("http" if insecure else "https"), raw.strip().rstrip("/")
        if any(c in rest for c in "/?#"):
            return None
    scheme = scheme.lower()
    for end in "/?#":
        rest = rest.partition(end)[0]
    if scheme not in ("http", "https") or not rest or any(c in rest for c in "@ \t"):
        return None
    return f"{scheme}://{rest}", scheme == "http"


def parse_resource_attributes(raw: str) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES``: ``k=v,k2=v2``, values percent-decoded."""
    from urllib.parse import unquote

    result: dict[str, str] = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            if item.strip():
                warn_once(OTEL_RESOURCE_ATTRIBUTES, "skipped a malformed entry")
            continue
        result[key] = unquote(value.strip())
    return result


def sampler_from_env(env: "Mapping[str, str]") -> tuple[str, float]:
    """``(sampler, ratio)`` from ``OTEL_TRACES_SAMPLER[_ARG]``, as the Python SDK reads them:
    the name case-insensitive, an unknown one means the default; the ratio only for the
    ``traceidratio`` samplers, 1.0 when unset, not a number or outside [0, 1]."""
    raw = get(env, OTEL_TRACES_SAMPLER)
    name = raw.lower() if raw else DEFAULT_SAMPLER
    if name not in SAMPLERS:
        warn_once(OTEL_TRACES_SAMPLER, f"unknown sampler {raw!r}, using {DEFAULT_SAMPLER}")
        name = DEFAULT_SAMPLER
    ratio = 1.0
    raw_arg = get(env, OTEL_TRACES_SAMPLER_ARG)
    if name.endswith("traceidratio") and raw_arg is not None:
        try:
            ratio = float(raw_arg)
        except ValueError:
            ratio = -1.0
        if not 0.0 <= ratio <= 1.0:  # NaN fails too
            warn_once(OTEL_TRACES_SAMPLER_ARG, f"not a ratio in [0, 1]: {raw_arg!r}, using 1.0")
            ratio = 1.0
    return name, ratio


def _limit(env: "Mapping[str, str]", names: "tuple[str, ...]", default: int | None) -> int | None:
    """The first of ``names`` set to a non-negative integer; None means no limit."""
    for name in names:
        raw = get(env, name)
        if raw is None:
            continue
        if raw.isdigit():
            return int(raw)
        warn_once(name, f"not a non-negative integer: {raw!r}")
    return default


class Limits(Record):
    """Span limits, the same on the light and the SDK path (``None``: no limit)."""

    __slots__ = (
        "span_attributes", "events", "links", "event_attributes", "link_attributes",
        "value_length", "attribute_length",
    )  # fmt: skip

    def __init__(
        self,
        span_attributes: int | None = DEFAULT_ATTRIBUTE_COUNT,
        events: int | None = DEFAULT_EVENT_COUNT,
        links: int | None = DEFAULT_LINK_COUNT,
        event_attributes: int | None = DEFAULT_ATTRIBUTE_COUNT,
        link_attributes: int | None = DEFAULT_ATTRIBUTE_COUNT,
        value_length: int | None = DEFAULT_VALUE_LENGTH,
        attribute_length: int | None = DEFAULT_VALUE_LENGTH,
    ) -> None:
        #: ``value_length`` for span attributes, ``attribute_length`` for event and link ones.
        self.attribute_length = attribute_length
        self.span_attributes = span_attributes
        self.events = events
        self.links = links
        self.event_attributes = event_attributes
        self.link_attributes = link_attributes
        self.value_length = value_length


def limits_from_env(env: "Mapping[str, str]") -> Limits:
    """The span limits, each specific variable before the general one, as the SDK reads
    them (``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`` > ``OTEL_ATTRIBUTE_COUNT_LIMIT`` > default)."""
    count = _limit(env, (ATTRIBUTE_COUNT_LIMIT,), DEFAULT_ATTRIBUTE_COUNT)
    length = _limit(env, (ATTRIBUTE_VALUE_LENGTH_LIMIT,), DEFAULT_VALUE_LENGTH)
    return Limits(
        span_attributes=_limit(env, (SPAN_ATTRIBUTE_COUNT_LIMIT,), count),
        events=_limit(env, (SPAN_EVENT_COUNT_LIMIT,), DEFAULT_EVENT_COUNT),
        links=_limit(env, (SPAN_LINK_COUNT_LIMIT,), DEFAULT_LINK_COUNT),
        event_attributes=_limit(env, (EVENT_ATTRIBUTE_COUNT_LIMIT,), count),
        link_attributes=_limit(env, (LINK_ATTRIBUTE_COUNT_LIMIT,), count),
        value_length=_limit(env, (SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,), length),
        attribute_length=length,
    )


def propagators_from_env(env: "Mapping[str, str]") -> "tuple[str, ...]":
    """The env-carrier propagators we apply, from ``OTEL_PROPAGATORS``: a subset of
    ``("tracecontext", "baggage")``; empty for ``none``."""
    raw = get(env, OTEL_PROPAGATORS)
    if raw is None:
        return ("tracecontext", "baggage")
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if "none" in names:
        return ()
    for name in names:
        if name not in ("tracecontext", "baggage"):
            warn_once(OTEL_PROPAGATORS, f"propagator {name!r} not supported, ignored")
    return tuple(n for n in ("tracecontext", "baggage") if n in names)
