"""Every environment variable the library reads, and how its values are parsed.

Precedence, everywhere: explicit constructor argument > the app's own variable
(``{PREFIX}_TELEMETRY_*``) > standard ``OTEL_*`` / ``DO_NOT_TRACK`` > the persisted
config file > the default. An empty value counts as unset. A value that cannot be
parsed is logged once at debug level and the default is used instead.

This module must stay cheap to import: it is read on the disabled path too, which imports
nothing the interpreter did not load at start-up (no ``from __future__``, ``typing``, ``re``
or ``logging`` at module level; annotations that need them are strings).
"""

import sys

from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# --- the app's own switches; ``{prefix}`` is the author's ``env_prefix`` -------------
#: ``1``/``true``: telemetry off for this app. ``0``/``false``: on, even over a persisted "off".
APP_DISABLED = "{prefix}_TELEMETRY_DISABLED"
#: ``1``: print what would be sent (OTLP JSON) to stderr and send nothing.
APP_DEBUG = "{prefix}_TELEMETRY_DEBUG"
#: Directory holding config, state and spool instead of the platformdirs locations.
APP_HOME = "{prefix}_TELEMETRY_HOME"
#: Datadog client token (``pub`` + 32 hex); overrides the author's ``datadog_client_token``.
APP_DATADOG_TOKEN = "{prefix}_TELEMETRY_DATADOG_CLIENT_TOKEN"  # noqa: S105 - a name
#: Full URL logs are POSTed to (a company's intake proxy); query parameters are still added.
APP_DATADOG_URL = "{prefix}_TELEMETRY_DATADOG_URL"
#: Datadog site (``datadoghq.com``, ``datadoghq.eu``, ``us3.datadoghq.com``, ...).
DD_SITE = "DD_SITE"

# --- cross-tool conventions --------------------------------------------------------
#: https://consoledonottrack.com: any value but ``0``/``false`` turns telemetry off.
DO_NOT_TRACK = "DO_NOT_TRACK"
#: OTel SDK spec: only ``true`` (any case) disables.
OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED"
#: OTel SDK spec: ``none`` means no exporter, which for us means off.
OTEL_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
OTEL_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
TRACEPARENT = "TRACEPARENT"
TRACESTATE = "TRACESTATE"

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

#: Set in the exporter child's environment so that nothing it runs can start another one.
CHILD_MARKER = "OTEL_CLI_TELEMETRY_EXPORTER_CHILD"

PROTOCOLS = ("http/protobuf", "http/json")
DEFAULT_PROTOCOL = "http/protobuf"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_EXPORT_DEADLINE_S = 10.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_warned: set[str] = set()


def warn_once(name: str, message: str) -> None:
    """Log a configuration problem once per process, at debug level only."""
    if name not in _warned:
        _warned.add(name)
        # Only through a ``logging`` the host already loaded: if it did not, no handler can
        # exist, the debug record would go nowhere, and importing it would cost the off path.
        logging = sys.modules.get("logging")
        if logging is not None:
            logging.getLogger("otel_cli_telemetry").debug("%s: %s", name, message)


def env_prefix_for(service_name: str) -> str:
    """``"my-cli"`` -> ``"MY_CLI"``: the default prefix of the app's own variables.

    Each run of characters other than ASCII letters and digits becomes one ``_`` (a loop, not
    ``re``, which is not loaded at start-up).
    """
    chars: list[str] = []
    for char in service_name:
        if char.isascii() and char.isalnum():
            chars.append(char)
        elif not chars or chars[-1] != "_":
            chars.append("_")
    prefix = "".join(chars).strip("_").upper()
    return prefix or "APP"


def get(env: "Mapping[str, str]", name: str) -> str | None:
    """The variable's value stripped, or None when it is unset or empty."""
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def flag(env: "Mapping[str, str]", name: str) -> bool | None:
    """A boolean switch: True, False, or None when unset. Unknown words count as True.

    Treating an unrecognised value (``DO_NOT_TRACK=please``) as "on" errs on the side
    of the user who set it.
    """
    value = get(env, name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _FALSE:
        return False
    if lowered not in _TRUE:
        warn_once(name, f"unrecognised value {value!r} read as true")
    return True


class OtlpSettings(Record):
    """Where and how the exporter child sends OTLP/HTTP."""

    __slots__ = (
        "endpoint", "protocol", "headers", "timeout_s", "compression",
        "ca_file", "client_cert", "client_key",
    )  # fmt: skip

    def __init__(
        self,
        endpoint: str,
        protocol: str = DEFAULT_PROTOCOL,
        headers: dict[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        compression: str | None = None,
        ca_file: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
    ) -> None:
        self.ca_file = ca_file
        self.client_cert = client_cert
        self.client_key = client_key
        self.endpoint = endpoint
        self.protocol = protocol
        self.headers = headers if headers is not None else {}
        self.timeout_s = timeout_s
        self.compression = compression


def _pick(env: "Mapping[str, str]", specific: str, general: str) -> tuple[str | None, bool]:
    value = get(env, specific)
    if value is not None:
        return value, True
    return get(env, general), False


def traces_url(base_or_full: str, *, is_signal_specific: bool) -> str:
    """Per spec: the generic endpoint is a base URL (``v1/traces`` appended), the
    traces-specific one is used exactly as given."""
    if is_signal_specific:
        return base_or_full
    return base_or_full.rstrip("/") + "/v1/traces"


def parse_headers(raw: str, *, source: str) -> dict[str, str]:
    """``k=v,k2=v2`` with percent-encoded values (W3C baggage octet rules, loosely)."""
    import re
    from urllib.parse import unquote

    headers: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", key):
            # Never echo the value: headers carry credentials.
            warn_once(source, "skipped a malformed header entry")
            continue
        headers[key.lower()] = unquote(value.strip())
    return headers


def parse_timeout(raw: str, *, source: str) -> float | None:
    """Spec timeouts are integer milliseconds. The Python SDK reads seconds; we follow the
    spec and treat any value as milliseconds."""
    try:
        millis = float(raw)
    except ValueError:
        warn_once(source, f"not a number of milliseconds: {raw!r}")
        return None
    if not millis > 0 or millis != millis or millis == float("inf"):
        warn_once(source, f"timeout must be positive: {raw!r}")
        return None
    return millis / 1000.0


def otlp_from_env(
    env: "Mapping[str, str]",
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: "Mapping[str, str] | None" = None,
) -> OtlpSettings | None:
    """Resolve the OTLP destination; None when neither author nor environment set one.

    An author's ``endpoint=`` is a base URL, like ``OTEL_EXPORTER_OTLP_ENDPOINT``.
    """
    url: str | None = None
    if endpoint:
        url = traces_url(endpoint, is_signal_specific=False)
    else:
        raw, specific = _pick(env, OTLP_TRACES_ENDPOINT, OTLP_ENDPOINT)
        if raw is not None:
            url = traces_url(raw, is_signal_specific=specific)
    if url is None:
        return None
    if not url.startswith(("http://", "https://")):
        warn_once("endpoint", f"not an http(s) URL, OTLP export disabled: {url!r}")
        return None

    proto = protocol or _pick(env, OTLP_TRACES_PROTOCOL, OTLP_PROTOCOL)[0] or DEFAULT_PROTOCOL
    if proto not in PROTOCOLS:
        warn_once(OTLP_PROTOCOL, f"unsupported protocol {proto!r}, using {DEFAULT_PROTOCOL}")
        proto = DEFAULT_PROTOCOL

    merged: dict[str, str] = {}
    for name in (OTLP_HEADERS, OTLP_TRACES_HEADERS):  # the specific one wins
        raw_headers = get(env, name)
        if raw_headers:
            merged.update(parse_headers(raw_headers, source=name))
    if headers:
        merged.update({k.lower(): v for k, v in headers.items()})

    timeout = DEFAULT_TIMEOUT_S
    raw_timeout, _ = _pick(env, OTLP_TRACES_TIMEOUT, OTLP_TIMEOUT)
    if raw_timeout is not None:
        timeout = parse_timeout(raw_timeout, source=OTLP_TIMEOUT) or DEFAULT_TIMEOUT_S

    compression: str | None = None
    raw_compression, _ = _pick(env, OTLP_TRACES_COMPRESSION, OTLP_COMPRESSION)
    if raw_compression is not None:
        if raw_compression.lower() == "gzip":
            compression = "gzip"
        elif raw_compression.lower() != "none":
            warn_once(OTLP_COMPRESSION, f"unsupported compression {raw_compression!r}")
    ca_file = _pick(env, OTLP_TRACES_CERTIFICATE, OTLP_CERTIFICATE)[0]
    client_cert = _pick(env, OTLP_TRACES_CLIENT_CERTIFICATE, OTLP_CLIENT_CERTIFICATE)[0]
    client_key = _pick(env, OTLP_TRACES_CLIENT_KEY, OTLP_CLIENT_KEY)[0]
    if (client_cert is None) != (client_key is None):
        warn_once(OTLP_CLIENT_CERTIFICATE, "client certificate and key go together; both ignored")
        client_cert = client_key = None
    return OtlpSettings(
        endpoint=url,
        protocol=proto,
        headers=merged,
        timeout_s=timeout,
        compression=compression,
        ca_file=ca_file,
        client_cert=client_cert,
        client_key=client_key,
    )


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
