"""Where a request goes: an endpoint URL taken apart, and the proxy the environment names
for it (``http(s)_proxy``, ``all_proxy``, ``no_proxy``, lower case first as curl reads
them), and the connection to it. Only ``http://`` proxies can be used; any other scheme is
an ``Unusable`` setting."""

from __future__ import annotations

import _socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


class Unusable(Exception):
    """A setting this client cannot use (a proxy scheme, a header, the TLS files): the
    same every time, so the caller backs off and ``status`` names ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: What ``urlsplit`` strips from a URL's start (C0 controls and space), and removes anywhere.
_LEADING = "".join(chr(i) for i in range(33))
_REMOVED = ("\t", "\r", "\n")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_BRACKETED = frozenset("0123456789abcdefABCDEF:.")
#: An IPv6 zone id's characters (RFC 6874: unreserved ones).
_ZONE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")


def split_url(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, request target, userinfo) of an http(s) URL.

    ``urllib.parse.urlsplit``'s reading (``tests/test_url_split.py`` compares them), without
    its import: with ``ipaddress`` and ``re`` it costs the child about 36 M instructions.
    """
    url = url.lstrip(_LEADING)
    for removed in _REMOVED:
        url = url.replace(removed, "")
    scheme, colon, rest = url.partition(":")
    if not colon or not scheme[:1].isalpha() or not set(scheme) <= _SCHEME_CHARS:
        raise Unusable("endpoint_scheme")
    scheme = scheme.lower()
    if scheme not in ("http", "https") or not rest.startswith("//"):
        raise Unusable("endpoint_scheme")
    rest = rest[2:]
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, rest = rest[:cut], rest[cut:]
    path, _, query = rest.partition("#")[0].partition("?")
    _check_normalised(netloc)
    userinfo, _, hostinfo = netloc.rpartition("@")
    if ("[" in netloc) != ("]" in netloc):
        raise Unusable("endpoint_host")
    before, bracket, bracketed = hostinfo.partition("[")
    if bracket:
        host, _, after = bracketed.partition("]")
        port_text = after.partition(":")[2]
        address, percent, zone = host.partition("%")
        zone = zone[2:] if zone.startswith("25") else zone  # RFC 6874 spells the % as %25
        if before or not address or not set(address) <= _BRACKETED:
            raise Unusable("endpoint_host")
        if percent and not (zone and set(zone) <= _ZONE):
            raise Unusable("endpoint_host")
        host = address.lower() + percent + zone  # a zone keeps its case, as urllib has it
    else:
        host, _, port_text = hostinfo.partition(":")
        name, percent, rest = host.partition("%")
        host = name.lower() + percent + rest  # after a %, the case stays, as urllib has it
    if not host:
        raise Unusable("endpoint_scheme")
    port = 0
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
            raise Unusable("endpoint_port")
        port = int(port_text)
        if port == 0:  # urllib reads port 0, which no server listens on: never port 80
            raise Unusable("endpoint_port")
    port = port or (443 if scheme == "https" else 80)
    target = (path or "/") + (f"?{query}" if query else "")
    if not target.isascii() or any(c.isspace() or c == "\x7f" for c in target):
        from urllib.parse import quote

        # As a browser does: octets outside the request-target grammar percent-encoded,
        # what is already encoded (and every reserved character) left as it is.
        target = quote(target, safe="/?[]@!$&'()*+,;=:%~-._")
    return scheme, host, port, target, userinfo


def _check_normalised(netloc: str) -> None:
    """Refuse a host part that NFKC normalisation turns into another URL's (a full-width
    slash U+FF0F becoming ``/``, CVE-2019-9636): what the URL names is ambiguous.
    urllib refuses these too; ASCII ones cannot change."""
    if netloc.isascii():
        return
    import unicodedata

    bare = "".join(c for c in netloc if c not in "@:#?")
    normalised = unicodedata.normalize("NFKC", bare)
    if normalised != bare and any(c in normalised for c in "/?#@:"):
        raise Unusable("endpoint_host")


def host_header(host: str, port: int, scheme: str) -> str:
    name = f"[{host.replace('%', '%25')}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return name if port == default else f"{name}:{port}"


def basic_auth(userinfo: str) -> str:
    import binascii  # built in; ``base64`` would load ``re`` and ``struct``

    user, _, password = userinfo.partition(":")
    if "%" in userinfo:
        from urllib.parse import unquote

        user, password = unquote(user), unquote(password)
    raw = f"{user}:{password}".encode()
    return "Basic " + binascii.b2a_base64(raw, newline=False).decode("ascii")


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
        name, entry_port = _entry_host_port(entry)
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def _entry_host_port(entry: str) -> tuple[str, str]:
    """A ``no_proxy`` entry's host and port (``""`` when it names none): ``[::1]:4318`` and
    ``[::1]`` bracket an IPv6 address, ``host:port`` has one colon, a bare IPv6 address more."""
    if entry.startswith("["):
        name, _, after = entry[1:].partition("]")
        return name, after[1:] if after.startswith(":") else ""
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        return name, port
    return entry, ""


def split_proxy(proxy: str) -> tuple[str, str, int, str, str]:
    if "://" not in proxy:
        proxy = "http://" + proxy  # curl's reading of a bare host:port
    scheme = proxy.partition("://")[0].lower()
    if scheme != "http":
        raise Unusable(f"proxy_scheme_{scheme}"[:40])
    return split_url(proxy)


def connect(host: str, port: int, left: Callable[[], float]) -> _socket.socket:
    """``socket.create_connection`` on a bare ``_socket`` (``socket`` costs about 33 M
    instructions at import): each address the name resolves to, in turn, each attempt
    bounded by ``left()`` (which raises ``TimeoutError`` once the deadline has passed)."""
    # Bytes skip the IDNA codec (encodings.idna, stringprep, unicodedata), which gives an
    # ASCII name unchanged anyway.
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    failure: OSError | None = None
    for family, kind, proto, _, address in _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(left())
            sock.connect(address)
        except OSError as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                raise
            failure = failure or exc
            continue
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return sock
    raise failure or OSError("the name resolved to no address")
