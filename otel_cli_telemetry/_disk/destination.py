"""Where spans go, resolved in the CLI process and handed to the exporter child.

The child never reads the host's configuration or imports its code: it reads this
description from ``destination.json`` (0600, in the private state dir), which the CLI
rewrites only when it changed. Headers may hold credentials: they are never logged.
"""

from __future__ import annotations

from otel_cli_telemetry._disk import state
from otel_cli_telemetry._process import config
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath

FILE = "file"
OTLP = "otlp"
DATADOG = "datadog"
POSTHOG = "posthog"
KINDS = (FILE, OTLP, DATADOG, POSTHOG)


class Destination(Record):
    """One place spans go.

    ``deadline_s``: the exporter child exits by this many seconds after it starts, whatever
    happens. ``file_max_bytes``: size cap of the local file sink before it rotates.
    ``token``: Datadog only, the write-only client token (sent as ``dd-api-key``; never
    logged). ``insecure``: OTLP/gRPC only, a plaintext channel instead of TLS.
    """

    __slots__ = (
        "kind", "endpoint", "protocol", "headers", "timeout_s", "compression", "deadline_s",
        "file_max_bytes", "token", "ca_file", "client_cert", "client_key", "insecure",
    )  # fmt: skip

    def __init__(
        self,
        kind: str = FILE,
        endpoint: str | None = None,
        protocol: str = config.DEFAULT_PROTOCOL,
        headers: dict[str, str] | None = None,
        timeout_s: float = config.DEFAULT_TIMEOUT_S,
        compression: str | None = None,
        deadline_s: float = config.DEFAULT_EXPORT_DEADLINE_S,
        file_max_bytes: int = 5 * 1024 * 1024,
        token: str | None = None,
        ca_file: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        insecure: bool = False,
    ) -> None:
        self.insecure = insecure
        self.ca_file = ca_file
        self.client_cert = client_cert
        self.client_key = client_key
        self.kind = kind
        self.endpoint = endpoint
        self.protocol = protocol
        self.headers = dict(headers) if headers else {}
        self.timeout_s = timeout_s
        self.compression = compression
        self.deadline_s = deadline_s
        self.file_max_bytes = file_max_bytes
        self.token = token

    def to_json(self) -> dict[str, Any]:
        data = self._asdict()
        data["headers"] = dict(self.headers)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Destination:
        kind = data.get("kind", FILE)
        if kind not in KINDS:
            raise ValueError("unknown destination kind")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError("headers must map strings to strings")
        endpoint = data.get("endpoint")
        if kind in (OTLP, DATADOG, POSTHOG) and not (
            isinstance(endpoint, str) and endpoint.startswith("http")
        ):
            raise ValueError(f"an {kind} destination needs an http(s) endpoint")
        token = data.get("token")
        if kind == DATADOG:
            from otel_cli_telemetry._exporter.sinks.datadog import validate_client_token

            if not isinstance(token, str):
                raise ValueError("a Datadog destination needs a client token")
            validate_client_token(token)
        if kind == POSTHOG:
            from otel_cli_telemetry._exporter.sinks.posthog import validate_api_key

            if not isinstance(token, str):
                raise ValueError("a PostHog destination needs a project API key")
            validate_api_key(token)
        protocol = data.get("protocol", config.DEFAULT_PROTOCOL)
        if not isinstance(protocol, str) or protocol.lower() not in config.PROTOCOLS:
            raise ValueError("unsupported protocol")
        protocol = protocol.lower()
        compression = data.get("compression")
        if compression not in (None, "gzip"):
            raise ValueError("unsupported compression")
        return cls(
            kind=kind,
            endpoint=endpoint if isinstance(endpoint, str) else None,
            protocol=protocol,
            headers=dict(headers),
            timeout_s=_positive(data.get("timeout_s"), config.DEFAULT_TIMEOUT_S),
            compression=compression,
            deadline_s=_positive(data.get("deadline_s"), config.DEFAULT_EXPORT_DEADLINE_S),
            file_max_bytes=int(_positive(data.get("file_max_bytes"), 5 * 1024 * 1024)),
            token=token if kind in (DATADOG, POSTHOG) else None,
            ca_file=_optional_str(data.get("ca_file")),
            client_cert=_optional_str(data.get("client_cert")),
            client_key=_optional_str(data.get("client_key")),
            insecure=data.get("insecure") is True and protocol == config.GRPC,
        )

    def describe(self) -> str:
        """A human summary without secrets, for ``status``."""
        if self.kind == FILE:
            return "local file (embedded default)"
        if self.kind == DATADOG:
            return f"Datadog logs intake at {self.endpoint} (client token)"
        if self.kind == POSTHOG:
            return f"PostHog at {self.endpoint} (project API key)"
        header_note = f", {len(self.headers)} header(s)" if self.headers else ""
        return f"OTLP {self.protocol} to {self.endpoint}{header_note}"


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _positive(value: object, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e9:
        return float(value)
    return default


def resolve(
    env: Mapping[str, str],
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    deadline_s: float | None = None,
) -> Destination:
    """Author arguments and ``OTEL_EXPORTER_OTLP_*``; the local file sink when neither."""
    otlp = config.otlp_from_env(env, endpoint=endpoint, protocol=protocol, headers=headers)
    deadline = deadline_s if deadline_s and deadline_s > 0 else config.DEFAULT_EXPORT_DEADLINE_S
    if otlp is None:
        return Destination(kind=FILE, deadline_s=deadline)
    return Destination(
        kind=OTLP,
        endpoint=otlp.endpoint,
        protocol=otlp.protocol,
        headers=dict(otlp.headers),
        timeout_s=otlp.timeout_s,
        compression=otlp.compression,
        deadline_s=deadline,
        ca_file=otlp.ca_file,
        client_cert=otlp.client_cert,
        client_key=otlp.client_key,
        insecure=otlp.insecure,
    )


def datadog_destination(
    env: Mapping[str, str],
    env_prefix: str,
    *,
    client_token: str | None = None,
    site: str | None = None,
    proxy_url: str | None = None,
    deadline_s: float | None = None,
) -> Destination | None:
    """The Datadog logs destination, if a client token is configured.

    The environment overrides the author's values here (``{PREFIX}_TELEMETRY_DATADOG_*``,
    ``DD_SITE``), so a company can route a shipped CLI through its own intake proxy. A bad
    value from the environment is ignored (debug note); a bad argument raises ValueError.
    """
    from otel_cli_telemetry._exporter.sinks import datadog as dd

    token_var = config.APP_DATADOG_TOKEN.format(prefix=env_prefix)
    url_var = config.APP_DATADOG_URL.format(prefix=env_prefix)
    token = client_token
    env_token = config.get(env, token_var)
    if env_token is not None:
        try:
            token = dd.validate_client_token(env_token)
        except ValueError:
            config.warn_once(token_var, "not a Datadog client token, ignored")
    if token is None:
        return None
    chosen_site = site
    env_site = config.get(env, config.DD_SITE)
    if env_site is not None:
        try:
            chosen_site = dd.normalise_site(env_site)
        except ValueError:
            config.warn_once(config.DD_SITE, "unknown Datadog site, ignored")
    proxy = config.get(env, url_var) or proxy_url
    try:
        url = dd.intake_url(chosen_site, proxy_url=proxy)
    except ValueError:
        config.warn_once(url_var, "not an http(s) URL, ignored")
        url = dd.intake_url(chosen_site)
    deadline = deadline_s if deadline_s and deadline_s > 0 else config.DEFAULT_EXPORT_DEADLINE_S
    return Destination(kind=DATADOG, endpoint=url, token=token, deadline_s=deadline)


def choose(
    env: Mapping[str, str],
    env_prefix: str,
    *,
    endpoint: str | None,
    protocol: str | None,
    headers: Mapping[str, str] | None,
    deadline_s: float,
    datadog: tuple[str | None, str | None, str | None],
    posthog: tuple[str | None, str | None],
    local_only_in_ci: bool,
) -> list[Destination]:
    """Every destination configured, in a stable order (OTLP, Datadog, PostHog); the local
    file sink when none is, or in CI when the app asked to keep CI runs local."""
    otlp = resolve(
        env, endpoint=endpoint, protocol=protocol, headers=headers, deadline_s=deadline_s
    )
    if local_only_in_ci:
        from otel_cli_telemetry._process.attributes import ci_provider

        if ci_provider(env) is not None:
            return [Destination(deadline_s=deadline_s)]
    chosen = [] if otlp.kind == FILE else [otlp]
    token, site, proxy = datadog
    if token is not None or config.get(env, config.APP_DATADOG_TOKEN.format(prefix=env_prefix)):
        dd = datadog_destination(
            env, env_prefix, client_token=token, site=site, proxy_url=proxy, deadline_s=deadline_s
        )
        if dd is not None:
            chosen.append(dd)
    key, host = posthog
    if key is not None:
        from otel_cli_telemetry._exporter.sinks.posthog import batch_url

        chosen.append(
            Destination(kind=POSTHOG, endpoint=batch_url(host), token=key, deadline_s=deadline_s)
        )
    return chosen or [otlp]


def queue_name(index: int, dest: Destination) -> str:
    """The first destination uses ``spool/``; each further one ``spool-<kind>/``."""
    return "" if index == 0 else dest.kind


def queues(
    paths: state.Paths, destinations: list[Destination]
) -> list[tuple[state.Paths, Destination]]:
    """Each destination with the paths of its own spool, lock and back-off."""
    return [(paths.for_queue(queue_name(i, d)), d) for i, d in enumerate(destinations)]


def save(path: StrPath, destinations: list[Destination]) -> None:
    """Persist for the exporter child, rewriting only when it changed."""
    wanted = {"destinations": [d.to_json() for d in destinations]}
    try:
        if state.read_json(path) == wanted:
            return
    except (ValueError, OSError):
        pass
    state.write_json(path, wanted)


def load(path: StrPath) -> list[Destination]:
    """The destinations the last command chose; the local file sink if none or unreadable."""
    try:
        data = state.read_json(path)
    except (ValueError, OSError):
        return [Destination()]
    if not data:
        return [Destination()]
    items = data.get("destinations")
    if not isinstance(items, list):
        items = [data]  # one destination, as written by earlier versions
    result: list[Destination] = []
    for item in items[:4]:
        try:
            if isinstance(item, dict):
                result.append(Destination.from_json(item))
        except (ValueError, TypeError):
            continue
    return result or [Destination()]
