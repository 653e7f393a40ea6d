"""Where a CLI's command spans go: ``OTLP``, ``Datadog`` and ``PostHog``.

>>> Telemetry("assembly", destinations=[OTLP("https://otlp.example.com"), Datadog("pub...")])

Each class checks its arguments when it is made (ValueError, saying why, never echoing a
secret), applies the environment's overrides when a command resolves it (``resolve``), and
turns into the record the exporter child reads from ``destination.json``. Light, like the
rest of the entry: no ``from __future__``, ``typing``, ``re`` or ``json`` at import. A vendor's
token and address are checked with string operations (``_disk.vendors``, which the exporter
child uses too): building ``Datadog(...)`` never loads the sink that sends to Datadog.
"""

from otel_cli_telemetry._disk import contract
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from otel_cli_telemetry._disk.destination import Destination as Resolved

__all__ = ["OTLP", "Datadog", "Destination", "PostHog"]


class Destination(Record):
    """The base of ``OTLP``, ``Datadog`` and ``PostHog``: one place command spans go."""

    __slots__ = ()
    #: The tag of this kind of destination in ``destination.json`` (the contract with the
    #: exporter child, which picks its sink by it).
    kind = ""

    def resolve(
        self,
        env: "Mapping[str, str]",
        *,
        env_prefix: str = "",
        deadline_s: float = contract.DEFAULT_EXPORT_DEADLINE_S,
    ) -> "Resolved | None":
        """The record the exporter child gets, with the environment's overrides applied
        (``env_prefix``: the app's ``{PREFIX}_TELEMETRY_*``, not read when empty); None
        when this destination is not configured after all."""
        fields = self._fields(env, env_prefix)
        if fields is None:
            return None
        from otel_cli_telemetry._disk import destination as destination_mod

        deadline = deadline_s if deadline_s > 0 else contract.DEFAULT_EXPORT_DEADLINE_S
        return destination_mod.Destination(kind=self.kind, deadline_s=deadline, **fields)

    def _fields(self, env: "Mapping[str, str]", env_prefix: str) -> "dict[str, Any] | None":
        """The record's fields besides ``kind`` and ``deadline_s``; None: not configured."""
        raise NotImplementedError

    @classmethod
    def describe(cls, record: "Resolved") -> str:
        """A human summary of a resolved record of this kind, without secrets."""
        from otel_cli_telemetry._disk import vendors

        return vendors.describe(record)

    @classmethod
    def check_token(cls, token: object) -> "str | None":
        """The credential of a record read back from disk, checked again (ValueError)."""
        from otel_cli_telemetry._disk import vendors

        return vendors.check_token(cls.kind, token) if vendors.has_token(cls.kind) else None


class OTLP(Destination):
    """OTLP to a collector or a backend: ``OTLP("https://otlp.example.com")``.

    ``endpoint`` is a base URL like ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``v1/traces`` is
    appended; gRPC uses it as given). Every argument beats the standard
    ``OTEL_EXPORTER_OTLP_[TRACES_]*`` variables; ``headers`` are merged over the
    environment's (yours win per name). ``OTLP()`` sends where the environment says, if it
    says anything: an app that lists no OTLP destination gets that anyway.
    """

    __slots__ = ("endpoint", "protocol", "headers")
    kind = "otlp"

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        protocol: str | None = None,
        headers: "Mapping[str, str] | None" = None,
    ) -> None:
        if protocol is not None:
            if not isinstance(protocol, str) or protocol.strip().lower() not in contract.PROTOCOLS:
                raise ValueError(f"OTLP protocol must be one of {', '.join(contract.PROTOCOLS)}")
            protocol = protocol.strip().lower()
        if endpoint is not None:
            if not isinstance(endpoint, str) or not endpoint.strip():
                raise ValueError("OTLP endpoint must be a URL, e.g. 'https://otlp.example.com'")
            endpoint = endpoint.strip()
            if not endpoint.startswith(("http://", "https://")) and not _grpc_ok(
                endpoint, protocol
            ):
                raise ValueError(
                    "OTLP endpoint must be an http(s) URL, e.g. 'https://otlp.example.com'"
                    " (host:port without a scheme only with protocol='grpc')"
                )
        if headers is not None and not (
            hasattr(headers, "items")
            and all(isinstance(k, str) and k and isinstance(v, str) for k, v in headers.items())
        ):
            raise ValueError("OTLP headers must map header names to string values")
        self.endpoint = endpoint
        self.protocol = protocol
        self.headers = {k.lower(): v for k, v in headers.items()} if headers else {}

    def __repr__(self) -> str:
        return (
            f"OTLP(endpoint={_shown(self.endpoint)!r}, protocol={self.protocol!r}, "
            f"headers=<{len(self.headers)} hidden>)"
        )

    def _fields(self, env: "Mapping[str, str]", env_prefix: str) -> "dict[str, Any] | None":
        """Per the OTLP exporter specification; a bad environment value is noted once (debug
        log) and ignored. None when neither this object nor the environment names an
        endpoint. An endpoint or protocol that cannot be used gives a record with its
        ``problem``: never another destination instead (its traces wait, and ``status``
        and the debug output say why)."""
        from otel_cli_telemetry._process import config

        if not self.endpoint and not (
            config.get(env, config.OTLP_TRACES_ENDPOINT) or config.get(env, config.OTLP_ENDPOINT)
        ):
            return None  # nothing imported: the common case of an app without OTLP
        from otel_cli_telemetry._process import otlp_env

        return otlp_env.fields(env, self.endpoint, self.protocol, self.headers)


class Datadog(Destination):
    """Datadog's logs intake, with a client token (``pub`` + 32 hex, write-only): each
    command span becomes one log. ``Datadog("pub...", site="datadoghq.eu")``.

    An API or application key is refused: they must never ship in a CLI. ``proxy_url``:
    a company's intake proxy. Here the environment beats the author, so an operator can
    reroute a shipped CLI: ``{PREFIX}_TELEMETRY_DATADOG_CLIENT_TOKEN``, ``DD_SITE`` and
    ``{PREFIX}_TELEMETRY_DATADOG_URL``. ``Datadog()`` without a token sends only when the
    environment gives one: an app that lists no Datadog destination gets that anyway.
    """

    __slots__ = ("client_token", "site", "proxy_url")
    kind = "datadog"

    def __init__(
        self,
        client_token: str | None = None,
        *,
        site: str | None = None,
        proxy_url: str | None = None,
    ) -> None:
        if client_token is not None or site or proxy_url:
            from otel_cli_telemetry._disk import vendors

            if client_token is not None:
                if not isinstance(client_token, str):
                    raise ValueError("Datadog client_token must be a string ('pub' + 32 hex)")
                client_token = vendors.validate_client_token(client_token)
            vendors.intake_url(site, proxy_url=proxy_url)  # checks both
        self.client_token = client_token
        self.site = site
        self.proxy_url = proxy_url

    def __repr__(self) -> str:
        token = "<hidden>" if self.client_token else None
        proxy = _shown(self.proxy_url)
        return f"Datadog(client_token={token}, site={self.site!r}, proxy_url={proxy!r})"

    def _fields(self, env: "Mapping[str, str]", env_prefix: str) -> "dict[str, Any] | None":
        """The environment first (a bad value there is noted once and ignored), then this
        object's values; None without a client token."""
        from otel_cli_telemetry._process import config

        token_var = config.APP_DATADOG_TOKEN.format(prefix=env_prefix)
        url_var = config.APP_DATADOG_URL.format(prefix=env_prefix)
        env_token = config.get(env, token_var) if env_prefix else None
        if env_token is None and self.client_token is None:
            return None  # nothing imported: the common case of an app without Datadog
        from otel_cli_telemetry._disk import vendors as dd

        token = self.client_token
        if env_token is not None:
            try:
                token = dd.validate_client_token(env_token)
            except ValueError:
                config.warn_once(token_var, "not a Datadog client token, ignored")
        if token is None:
            return None
        site = self.site
        env_site = config.get(env, config.DD_SITE)
        if env_site is not None:
            try:
                site = dd.normalise_site(env_site)
            except ValueError:
                config.warn_once(config.DD_SITE, "unknown Datadog site, ignored")
        proxy = (config.get(env, url_var) if env_prefix else None) or self.proxy_url
        try:
            url = dd.intake_url(site, proxy_url=proxy)
        except ValueError:
            config.warn_once(url_var, "not an http(s) URL, ignored")
            url = dd.intake_url(site, proxy_url=self.proxy_url)
        return {"endpoint": url, "token": token}


class PostHog(Destination):
    """PostHog, with a project API key (``phc_...``, write-only): each command span becomes
    a ``cli command executed`` event. ``PostHog("phc_...", host="https://eu.i.posthog.com")``
    (default ``https://us.i.posthog.com``). A personal API key (``phx_...``) is refused."""

    __slots__ = ("api_key", "host")
    kind = "posthog"

    def __init__(self, api_key: str, *, host: str | None = None) -> None:
        from otel_cli_telemetry._disk import vendors as posthog

        if not isinstance(api_key, str):
            raise ValueError("PostHog api_key must be a string (the project key, 'phc_...')")
        if host is not None and not isinstance(host, str):
            raise ValueError("PostHog host must be an http(s) URL")
        self.api_key = posthog.validate_api_key(api_key)
        posthog.batch_url(host)  # checks it
        self.host = host

    def __repr__(self) -> str:
        return f"PostHog(api_key=<hidden>, host={_shown(self.host)!r})"

    def _fields(self, env: "Mapping[str, str]", env_prefix: str) -> "dict[str, Any] | None":
        """The author's values: PostHog reads no environment variable."""
        from otel_cli_telemetry._disk.vendors import batch_url

        return {"endpoint": batch_url(self.host), "token": self.api_key}


def _shown(url: "str | None") -> "str | None":
    """A URL as a repr may show it: no userinfo, no query values (``urls.redact``)."""
    if not url:
        return url
    from otel_cli_telemetry._disk.urls import redact

    return redact(url)


#: Every kind, in the order their queues are made: the first one listed uses ``spool/``,
#: each further one ``spool-<kind>/`` (stable whatever order the author lists them in).
KINDS: "tuple[type[Destination], ...]" = (OTLP, Datadog, PostHog)
#: Read from the environment even when the author lists none of them.
FROM_ENV: "tuple[type[Destination], ...]" = (OTLP, Datadog)


def by_kind(kind: str) -> "type[Destination] | None":
    """The class of a ``destination.json`` kind tag; None for the local file sink."""
    for cls in KINDS:
        if cls.kind == kind:
            return cls
    return None


def checked(values: "Iterable[Destination]") -> "tuple[Destination, ...]":
    """The author's ``destinations=``, checked (TypeError, ValueError), one per kind, in
    queue order."""
    if isinstance(values, (str, bytes, Destination)) or not hasattr(values, "__iter__"):
        raise TypeError(
            "destinations must be a list, e.g. [OTLP('https://otlp.example.com')], "
            f"not {type(values).__name__}"
        )
    found: dict[str, Destination] = {}
    for index, value in enumerate(values):
        if not isinstance(value, Destination) or by_kind(value.kind) is None:
            raise TypeError(
                f"destinations[{index}] is a {type(value).__name__}, not a destination: "
                "use OTLP(...), Datadog(...) or PostHog(...) from otel_cli_telemetry"
            )
        if value.kind in found:
            raise ValueError(f"destinations: more than one {type(value).__name__} destination")
        found[value.kind] = value
    return tuple(found[cls.kind] for cls in KINDS if cls.kind in found)


def with_env_defaults(listed: "tuple[Destination, ...]") -> "list[Destination]":
    """The author's destinations, plus an empty one of each kind the environment alone may
    configure (``OTEL_EXPORTER_OTLP_*``, the app's Datadog token), in queue order."""
    kinds = {d.kind for d in listed}
    extra = [cls() for cls in FROM_ENV if cls.kind not in kinds]
    order = [cls.kind for cls in KINDS]
    return sorted([*listed, *extra], key=lambda d: order.index(d.kind))


def _grpc_ok(endpoint: str, protocol: str | None) -> bool:
    """Whether ``endpoint`` (no http(s) scheme) is a gRPC target ``protocol`` allows."""
    from otel_cli_telemetry._process.config import grpc_target

    return protocol in (None, contract.GRPC) and grpc_target(endpoint, insecure=False) is not None
