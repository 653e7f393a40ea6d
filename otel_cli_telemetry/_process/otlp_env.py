"""The OTLP exporter's variables (``OTEL_EXPORTER_OTLP_[TRACES_]*``, specification
``protocol/exporter.md``) read into values: endpoint URL, headers, timeout, compression,
TLS files. ``destinations.OTLP`` resolves itself with these; the names live in ``config``.

Loaded when a command records (not on the disabled path).
"""

from otel_cli_telemetry._process import config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def pick(env: "Mapping[str, str]", specific: str, general: str) -> tuple[str | None, bool]:
    """The signal-specific variable if set, else the general one; and whether it was the
    specific one."""
    value = config.get(env, specific)
    if value is not None:
        return value, True
    return config.get(env, general), False


def traces_url(base_or_full: str, *, is_signal_specific: bool) -> str:
    """Per spec: the generic endpoint is a base URL (``v1/traces`` appended to its path,
    before any query: ``https://h/?k=v`` -> ``https://h/v1/traces?k=v``), the
    traces-specific one is used exactly as given."""
    if is_signal_specific:
        return base_or_full
    from otel_cli_telemetry._disk.urls import with_path

    return with_path(base_or_full, "v1/traces")


def parse_headers(raw: str, *, source: str) -> dict[str, str]:
    """``k=v,k2=v2``, keys and values percent-decoded (the spec's W3C baggage format)."""
    import re
    from urllib.parse import unquote

    headers: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = unquote(key.strip())
        if not sep or not key or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", key):
            # Never echo the value: headers carry credentials.
            config.warn_once(source, "skipped a malformed header entry")
            continue
        headers[key.lower()] = unquote(value.strip())
    return headers


def parse_timeout(raw: str, *, source: str) -> float | None:
    """Spec timeouts are integer milliseconds. The Python SDK reads seconds; we follow the
    spec and treat any value as milliseconds. ``0`` means no limit (``config.NO_TIMEOUT_S``: the
    exporter child's hard deadline still bounds every request)."""
    try:
        millis = float(raw)
    except ValueError:
        config.warn_once(source, f"not a number of milliseconds: {raw!r}")
        return None
    if millis == 0:
        return config.NO_TIMEOUT_S
    if not millis > 0 or millis != millis or millis == float("inf"):
        config.warn_once(source, f"timeout must be positive: {raw!r}")
        return None
    return min(millis / 1000.0, config.NO_TIMEOUT_S)


def headers_from_env(env: "Mapping[str, str]") -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` if set, else ``OTEL_EXPORTER_OTLP_HEADERS``:
    the signal-specific variable replaces the generic one (spec), it is not merged."""
    raw, specific = pick(env, config.OTLP_TRACES_HEADERS, config.OTLP_HEADERS)
    if raw is None:
        return {}
    return parse_headers(
        raw, source=config.OTLP_TRACES_HEADERS if specific else config.OTLP_HEADERS
    )


def timeout_from_env(env: "Mapping[str, str]") -> float:
    """The per-request timeout in seconds from ``OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT``."""
    raw, specific = pick(env, config.OTLP_TRACES_TIMEOUT, config.OTLP_TIMEOUT)
    if raw is None:
        return config.DEFAULT_TIMEOUT_S
    source = config.OTLP_TRACES_TIMEOUT if specific else config.OTLP_TIMEOUT
    return parse_timeout(raw, source=source) or config.DEFAULT_TIMEOUT_S


def compression_from_env(env: "Mapping[str, str]") -> str | None:
    """``gzip`` or None, from ``OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION``."""
    raw, _ = pick(env, config.OTLP_TRACES_COMPRESSION, config.OTLP_COMPRESSION)
    if raw is None or raw.lower() == "none":
        return None
    if raw.lower() == "gzip":
        return "gzip"
    config.warn_once(config.OTLP_COMPRESSION, f"unsupported compression {raw!r}")
    return None


def tls_from_env(env: "Mapping[str, str]") -> "tuple[str | None, str | None, str | None]":
    """The CA file, client certificate and client key (``OTEL_EXPORTER_OTLP_[TRACES_]
    CERTIFICATE`` ...); certificate and key go together or are both ignored."""
    ca_file = pick(env, config.OTLP_TRACES_CERTIFICATE, config.OTLP_CERTIFICATE)[0]
    cert = pick(env, config.OTLP_TRACES_CLIENT_CERTIFICATE, config.OTLP_CLIENT_CERTIFICATE)[0]
    key = pick(env, config.OTLP_TRACES_CLIENT_KEY, config.OTLP_CLIENT_KEY)[0]
    if (cert is None) != (key is None):
        config.warn_once(
            config.OTLP_CLIENT_CERTIFICATE, "client certificate and key go together; both ignored"
        )
        return ca_file, None, None
    return ca_file, cert, key


def fields(
    env: "Mapping[str, str]",
    endpoint: str | None,
    protocol: str | None,
    headers: "Mapping[str, str]",
) -> "dict[str, Any] | None":
    """The record fields of an ``OTLP`` destination (``endpoint``, ``protocol``, ``headers``
    as the author gave them) with the environment applied, per the OTLP exporter
    specification; None without an endpoint. An endpoint or protocol that cannot be used
    gives a record with its ``problem`` (never another destination instead)."""
    from otel_cli_telemetry._disk.urls import redact

    raw, specific = pick(env, config.OTLP_TRACES_ENDPOINT, config.OTLP_ENDPOINT)
    if endpoint:
        raw, specific = endpoint, False
    if raw is None:
        return None
    proto = protocol
    problem = None
    if proto is None:
        raw_proto = pick(env, config.OTLP_TRACES_PROTOCOL, config.OTLP_PROTOCOL)[0]
        proto = (raw_proto or config.DEFAULT_PROTOCOL).strip().lower()
    insecure = False
    if proto not in config.PROTOCOLS:
        # The SDK refuses it too: guessing another protocol could send elsewhere.
        problem = f"unsupported OTLP protocol {proto[:32]!r} (use {', '.join(config.PROTOCOLS)})"
        url = raw
    elif proto == config.GRPC:
        raw_insecure = pick(env, config.OTLP_TRACES_INSECURE, config.OTLP_INSECURE)[0]
        target = config.grpc_target(raw, insecure=(raw_insecure or "").lower() == "true")
        if target is None:
            problem = "not a gRPC endpoint (http[s]://host:port, or host:port)"
            url = raw
        else:
            url, insecure = target
    else:
        url = traces_url(raw, is_signal_specific=specific)
        if not url.startswith(("http://", "https://")) or not url.partition("://")[2].strip("/"):
            problem = "the endpoint is not an http(s) URL (e.g. http://localhost:4318)"
    if problem is not None:
        config.warn_once("endpoint", f"{problem}: {redact(url)!r}, nothing sent")
    ca_file, client_cert, client_key = tls_from_env(env)
    return {
        "endpoint": url,
        "protocol": proto,
        "headers": {**headers_from_env(env), **headers},
        "timeout_s": timeout_from_env(env),
        "compression": compression_from_env(env),
        "ca_file": ca_file,
        "client_cert": client_cert,
        "client_key": client_key,
        "insecure": insecure,
        "problem": problem,
    }
