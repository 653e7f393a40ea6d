"""Where a request goes: an endpoint URL taken apart, and the proxy the environment names
for it (``http(s)_proxy``, ``all_proxy``, ``no_proxy``, lower case first as curl reads
them). Only ``http://`` proxies can be used; any other scheme is an ``Unusable`` setting."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class Unusable(Exception):
    """A setting this client cannot use (a proxy scheme, a header, the TLS files): the
    same every time, so the caller backs off and ``status`` names ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def split_url(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, request target, userinfo) of an http(s) URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise Unusable("endpoint_scheme")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise Unusable("endpoint_port") from exc
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.isascii() or any(c.isspace() or c == "\x7f" for c in target):
        from urllib.parse import quote

        # As a browser does: octets outside the request-target grammar percent-encoded,
        # what is already encoded (and every reserved character) left as it is.
        target = quote(target, safe="/?[]@!$&'()*+,;=:%~-._")
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return scheme, parts.hostname, port, target, userinfo


def host_header(host: str, port: int, scheme: str) -> str:
    name = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return name if port == default else f"{name}:{port}"


def basic_auth(userinfo: str) -> str:
    import base64
    from urllib.parse import unquote

    user, _, password = userinfo.partition(":")
    raw = f"{unquote(user)}:{unquote(password)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def proxy_for(scheme: str, host: str, port: int, env: Mapping[str, str]) -> str | None:
    """The proxy URL the environment names for this target, or None (direct)."""

    def get(name: str) -> str:
        return (env.get(name.lower()) or env.get(name.upper()) or "").strip()

    no_proxy = get("no_proxy")
    if no_proxy and _bypassed(host, port, no_proxy):
        return None
    # httpoxy: in a CGI context HTTP_PROXY may come from a request header.
    cgi = scheme == "http" and "REQUEST_METHOD" in env
    proxy = "" if cgi else get(f"{scheme}_proxy")
    return proxy or get("all_proxy") or None


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:  # a CIDR block
            import ipaddress

            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.strip("[]").lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def split_proxy(proxy: str) -> tuple[str, str, int, str, str]:
    if "://" not in proxy:
        proxy = "http://" + proxy  # curl's reading of a bare host:port
    scheme = proxy.partition("://")[0].lower()
    if scheme != "http":
        raise Unusable(f"proxy_scheme_{scheme}"[:40])
    return split_url(proxy)
