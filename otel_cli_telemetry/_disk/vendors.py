"""The vendors' credentials and addresses, checked with string operations only: what the
CLI process checks when an app builds ``Datadog(...)`` or ``PostHog(...)``, and what the
exporter child checks again when it reads ``destination.json``.

No ``re``, ``json``, ``uuid`` or ``urllib`` here: a CLI that lists a vendor pays a few
string comparisons, not the sink that sends to it (the exporter child's ``sinks``).
Messages never repeat the value: a key pasted by mistake is a secret.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Protocol

    class Described(Protocol):
        """What ``describe`` reads of a ``destination.Destination`` (named structurally:
        ``destination`` imports this module, never the other way)."""

        @property
        def kind(self) -> str: ...
        @property
        def endpoint(self) -> str | None: ...
        @property
        def protocol(self) -> str: ...
        @property
        def headers(self) -> Mapping[str, str]: ...


DATADOG = "datadog"
POSTHOG = "posthog"

#: Datadog site -> its browser logs intake host.
DATADOG_SITES = {
    "datadoghq.com": "browser-intake-datadoghq.com",
    "us3.datadoghq.com": "browser-intake-us3-datadoghq.com",
    "us5.datadoghq.com": "browser-intake-us5-datadoghq.com",
    "datadoghq.eu": "browser-intake-datadoghq.eu",
    "ap1.datadoghq.com": "browser-intake-ap1-datadoghq.com",
    "ap2.datadoghq.com": "browser-intake-ap2-datadoghq.com",
    "ddog-gov.com": "browser-intake-ddog-gov.com",
}
DATADOG_ALIASES = {"us1": "datadoghq.com", "us3": "us3.datadoghq.com", "us5": "us5.datadoghq.com",
                   "eu": "datadoghq.eu", "eu1": "datadoghq.eu", "ap1": "ap1.datadoghq.com",
                   "ap2": "ap2.datadoghq.com",
                   "gov": "ddog-gov.com", "us1-fed": "ddog-gov.com"}  # fmt: skip
DATADOG_DEFAULT_SITE = "datadoghq.com"
DATADOG_INTAKE_PATH = "/api/v2/logs"
POSTHOG_DEFAULT_HOST = "https://us.i.posthog.com"

_HEX = frozenset("0123456789abcdef")
_HTTP = ("https://", "http://")


def _hex(text: str, length: int) -> bool:
    return len(text) == length and _HEX.issuperset(text)


def validate_client_token(token: str) -> str:
    """The token if it is a Datadog client token (``pub`` + 32 lowercase hex); ValueError
    saying what it looks like otherwise (an API or application key must never ship)."""
    candidate = token.strip()
    if candidate.startswith("pub") and _hex(candidate[3:], 32):
        return candidate
    if _hex(candidate.lower(), 32):
        raise ValueError(
            "this looks like a Datadog API key, not a client token: an API key grants write "
            "access to your whole account (metrics, events, logs, monitors through the API) "
            "and must never ship inside a CLI. Create a client token (it starts with 'pub') "
            "under Organization Settings > Client Tokens."
        )
    if _hex(candidate.lower(), 40):
        raise ValueError(
            "this looks like a Datadog application key, not a client token: it grants read "
            "access to your account's data and must never ship inside a CLI. Use a client "
            "token (it starts with 'pub')."
        )
    raise ValueError("not a Datadog client token: expected 'pub' followed by 32 hex digits")


def _hostname(url: str) -> str:
    """The host of ``scheme://[user@]host[:port][/...]``, lowercased (as urlsplit gives it)."""
    rest = url.split("://", 1)[1]
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    host = rest.rpartition("@")[2]
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.partition(":")[0]


def normalise_site(site: str | None) -> str:
    """``us3`` / ``us3.datadoghq.com`` / ``https://app.datadoghq.eu`` -> a known site."""
    if not site:
        return DATADOG_DEFAULT_SITE
    value = site.strip().lower()
    if "://" in value:
        value = _hostname(value)
    value = value.removeprefix("app.")
    value = DATADOG_ALIASES.get(value, value)
    if value not in DATADOG_SITES:
        raise ValueError(
            f"unknown Datadog site {site!r}; expected one of {', '.join(DATADOG_SITES)}"
        )
    return value


def intake_url(site: str | None = None, *, proxy_url: str | None = None) -> str:
    """The URL Datadog logs are POSTed to, before the query parameters."""
    if proxy_url:
        if not proxy_url.startswith(_HTTP):
            raise ValueError("the Datadog proxy URL must be an http(s) URL")
        return proxy_url
    return f"https://{DATADOG_SITES[normalise_site(site)]}{DATADOG_INTAKE_PATH}"


def validate_api_key(key: str) -> str:
    """The key if it is a PostHog project API key (``phc_`` + 20-64 ASCII letters and
    digits); ValueError otherwise (a personal key, ``phx_``, must never ship)."""
    candidate = key.strip()
    if candidate.startswith("phx_"):
        raise ValueError(
            "this is a PostHog personal API key: it can read and change your whole "
            "organisation and must never ship in a CLI. Use the project API key (phc_...)."
        )
    body = candidate[4:]
    if not (
        candidate.startswith("phc_") and 20 <= len(body) <= 64 and body.isascii() and body.isalnum()
    ):
        raise ValueError("not a PostHog project API key: expected 'phc_' and 20-64 letters/digits")
    return candidate


def batch_url(host: str | None) -> str:
    """Where PostHog events are POSTed: ``<host>/batch/``."""
    base = (host or POSTHOG_DEFAULT_HOST).rstrip("/")
    if not base.startswith(_HTTP):
        raise ValueError("the PostHog host must be an http(s) URL")
    return base + "/batch/"


#: kind -> (service label, what its token is called, its check)
_TOKENS = {
    DATADOG: ("Datadog", "Datadog logs intake", "client token", validate_client_token),
    POSTHOG: ("PostHog", "PostHog", "project API key", validate_api_key),
}


def has_token(kind: str) -> bool:
    """True for a vendor that authenticates with a write-only token."""
    return kind in _TOKENS


def check_token(kind: str, token: object) -> str:
    """The credential of a ``kind`` record read back from disk, checked again (ValueError)."""
    name, _, token_name, check = _TOKENS[kind]
    if not isinstance(token, str):
        raise ValueError(f"a {name} destination needs a {token_name}")
    return check(token)


def describe(record: "Described") -> str:
    """A human summary of a resolved vendor record, without secrets."""
    if record.kind in _TOKENS:
        _, label, token_name, _ = _TOKENS[record.kind]
        return f"{label} at {record.endpoint} ({token_name})"
    note = f", {len(record.headers)} header(s)" if record.headers else ""
    return f"OTLP {record.protocol} to {record.endpoint}{note}"
