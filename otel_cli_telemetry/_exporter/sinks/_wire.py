"""A small HTTP/1.1 client for the exporter child: one POST, a bounded answer.

Why not httpx or ``http.client``: importing httpx costs about 300 M instructions and its
client builds a TLS context even for ``http://`` (240 M more); ``http.client`` imports
``email.parser`` and ``ssl`` (about 125 M, more than a whole lean CLI command). What a sink
needs is small, and every part of it must be bounded against a hostile server:

- one deadline per request covers everything after the name lookup: connect, TLS
  handshake, proxy CONNECT, send, the response's head and its body (a server trickling one
  byte a second is cut at the deadline);
- the response head is read up to ``HEAD_CAP``; a body only for a 2xx, up to ``BODY_CAP``,
  decompressed size included (a gzip bomb stops at the cap); redirects are never followed;
- ``ssl`` is imported, and a TLS context built, only for an ``https://`` destination;
- proxies from ``http(s)_proxy``/``all_proxy``/``no_proxy`` (lower case first, as curl and
  urllib read them): ``http://`` proxies only (absolute-form for ``http://`` targets,
  ``CONNECT`` for ``https://``); another proxy scheme (``socks5://``, ``https://``) is an
  ``Unusable`` setting, never an import error;
- header values in latin-1 where they fit (what ``http.client``, and so the OpenTelemetry
  SDK's exporter, sends), UTF-8 bytes otherwise; a header that cannot be sent at all (a
  name outside the token grammar, a line break in a value) is ``Unusable``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

#: Bytes of a response's status line and headers read at most.
HEAD_CAP = 64 * 1024
#: Bytes of a 2xx response's body kept at most, after decompression (a partialSuccess
#: answer is a few hundred bytes); past it the body is left unread and the connection closed.
BODY_CAP = 64 * 1024
#: How much one ``recv`` asks for.
_CHUNK = 16 * 1024
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class Unusable(Exception):
    """A setting this client cannot use (a proxy scheme, a header, the TLS files): the
    same every time, so the caller backs off and ``status`` names ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProtocolError(OSError):
    """The server's answer is not HTTP/1.x as we can read it."""


class Response:
    """A response: ``status``, lower-cased ``headers``, and the (2xx only) ``body``, which
    ``truncated`` says was cut at ``BODY_CAP``."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes, truncated: bool):
        self.status = status
        self.headers = headers
        self.body = body
        self.truncated = truncated


def _split_url(url: str) -> tuple[str, str, int, str, str]:
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
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return scheme, parts.hostname, port, target, userinfo


def _host_header(host: str, port: int, scheme: str) -> str:
    name = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return name if port == default else f"{name}:{port}"


def _basic(userinfo: str) -> str:
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


def _header_lines(headers: Mapping[str, str]) -> bytes:
    out = []
    for name, value in headers.items():
        if not name or not set(name) <= _TOKEN:
            raise Unusable("header_name")
        if any(c in value for c in "\r\n\0"):
            raise Unusable("header_value")
        try:
            encoded = value.encode("latin-1")
        except UnicodeEncodeError:
            encoded = value.encode("utf-8")
        out.append(name.encode("ascii") + b": " + encoded + b"\r\n")
    return b"".join(out)


class Client:
    """One connection at a time, kept alive between requests to the same place.

    ``tls``: builds the TLS context on first use of ``https://`` (the caller decides what is
    verified and how). ``env``: where proxy variables are read (``os.environ``).
    """

    def __init__(
        self,
        *,
        tls: Callable[[], ssl.SSLContext] | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tls_factory = tls
        self._tls: ssl.SSLContext | None = None
        self._env = os.environ if env is None else env
        self._clock = clock
        self._sock: socket.socket | None = None
        self._key: tuple[object, ...] | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock, self._key, self._buffer = None, None, b""

    # --- sending ---------------------------------------------------------------------

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Response:
        """POST ``body``; raises ``Unusable``, ``TimeoutError`` or ``OSError``."""
        deadline = self._clock() + timeout_s
        scheme, host, port, target, userinfo = _split_url(url)
        proxy = proxy_for(scheme, host, port, self._env)
        fields = {"Host": _host_header(host, port, scheme)}
        if userinfo and not any(k.lower() == "authorization" for k in headers):
            fields["Authorization"] = _basic(userinfo)
        proxy_auth = None
        if proxy is not None:
            _, proxy_host, proxy_port, _, proxy_info = _split_proxy(proxy)
            proxy_auth = _basic(proxy_info) if proxy_info else None
            if scheme == "http":
                target = f"http://{fields['Host']}{target}"
                if proxy_auth:
                    fields["Proxy-Authorization"] = proxy_auth
        fields.update(headers)
        fields["Content-Length"] = str(len(body))
        head = f"POST {target} HTTP/1.1\r\n".encode("ascii") + _header_lines(fields) + b"\r\n"
        key = (scheme, host, port, proxy)
        reused = self._sock is not None and self._key == key
        if not reused:
            self.close()
            try:
                if proxy is None:
                    self._sock = self._connect(host, port, deadline)
                else:
                    self._sock = self._connect(proxy_host, proxy_port, deadline)
                    if scheme == "https":
                        self._tunnel(host, port, proxy_auth, deadline)
                        self._buffer = b""
                if scheme == "https":
                    self._sock = self._handshake(self._sock, host, deadline)
            except BaseException:
                self.close()
                raise
            self._key = key
        try:
            return self._exchange(head + body, deadline)
        except (ConnectionError, ProtocolError) as exc:
            self.close()
            if not reused or (isinstance(exc, ProtocolError) and str(exc) != "closed"):
                raise
        # A kept-alive connection the server had closed: once more, on a new one.
        return self.post(url, body, headers, max(0.0, deadline - self._clock()))

    def _left(self, deadline: float) -> float:
        left = deadline - self._clock()
        if left <= 0:
            raise TimeoutError("request deadline")
        return left

    def _connect(self, host: str, port: int, deadline: float) -> socket.socket:
        sock = socket.create_connection((host, port), timeout=self._left(deadline))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _tunnel(self, host: str, port: int, auth: str | None, deadline: float) -> None:
        """``CONNECT`` through an http proxy to an https target."""
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = {"Host": where, **({"Proxy-Authorization": auth} if auth else {})}
        request = f"CONNECT {where} HTTP/1.1\r\n".encode("ascii") + _header_lines(lines) + b"\r\n"
        self._send(request, deadline)
        status, _ = self._read_head(deadline)
        if status != 200:
            raise ConnectionError(f"proxy answered {status} to CONNECT")

    def _handshake(self, sock: socket.socket, host: str, deadline: float) -> socket.socket:
        """TLS over ``sock``, verified, the handshake bounded by the deadline as a whole."""
        import select
        import ssl

        if self._tls is None:
            if self._tls_factory is None:
                self._tls = ssl.create_default_context()
            else:
                try:
                    self._tls = self._tls_factory()
                except (OSError, ValueError) as exc:  # an unreadable CA or client certificate
                    sock.close()
                    raise Unusable(f"tls_config:{exc.__class__.__name__}") from exc
        tls = self._tls.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        tls.setblocking(False)
        try:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    ready = select.select([tls], [], [], self._left(deadline))[0]
                except ssl.SSLWantWriteError:
                    ready = select.select([], [tls], [], self._left(deadline))[1]
                if not ready:
                    raise TimeoutError("request deadline")
        except BaseException:
            tls.close()
            raise
        tls.setblocking(True)
        return tls

    def _send(self, data: bytes, deadline: float) -> None:
        assert self._sock is not None
        self._sock.settimeout(self._left(deadline))  # sendall's timeout bounds it all
        self._sock.sendall(data)

    # --- receiving -------------------------------------------------------------------

    def _recv(self, deadline: float) -> bytes:
        assert self._sock is not None
        self._sock.settimeout(self._left(deadline))
        return self._sock.recv(_CHUNK)

    def _read_head(self, deadline: float) -> tuple[int, dict[str, str]]:
        while True:
            while b"\r\n\r\n" not in self._buffer:
                if len(self._buffer) > HEAD_CAP:
                    raise ProtocolError("response head too large")
                data = self._recv(deadline)
                if not data:
                    raise ProtocolError("closed")
                self._buffer += data
            raw, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
            if len(raw) > HEAD_CAP:
                raise ProtocolError("response head too large")
            lines = raw.decode("latin-1").split("\r\n")
            version, _, rest = lines[0].partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise ProtocolError("not an HTTP/1.x response")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            if not 100 <= int(code) < 200:  # an interim answer: the real one follows
                return int(code), headers

    def _exchange(self, request: bytes, deadline: float) -> Response:
        self._send(request, deadline)
        status, headers = self._read_head(deadline)
        if not 200 <= status < 300:
            # Only the status and headers matter: the body is never read, the connection
            # not reused (nothing of a refusal's body is kept: it may quote our data).
            self.close()
            return Response(status, headers, b"", False)
        body, truncated, complete = self._read_body(headers, status, deadline)
        keep = complete and "close" not in headers.get("connection", "").lower()
        if not keep:
            self.close()
        return Response(status, headers, body, truncated)

    def _read_body(
        self, headers: dict[str, str], status: int, deadline: float
    ) -> tuple[bytes, bool, bool]:
        """(body decoded up to BODY_CAP, truncated, the whole body was consumed)."""
        decoder = _Decoder(headers.get("content-encoding", ""))
        if status in (204, 304):
            return b"", False, True
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked(decoder, deadline)
        length_text = headers.get("content-length")
        if length_text is not None:
            if not length_text.isdigit():
                raise ProtocolError("bad content-length")
            left = int(length_text)
            if left > BODY_CAP and decoder.identity:
                return b"", True, False
            while left > 0:
                data = self._buffer or self._recv(deadline)
                self._buffer = b""
                if not data:
                    raise ProtocolError("body cut short")
                data, self._buffer = data[:left], data[left:]
                left -= len(data)
                if decoder.feed(data):
                    return decoder.result(), True, False
            return decoder.result(), False, True
        while True:  # delimited by the connection's end
            data = self._buffer or self._recv(deadline)
            self._buffer = b""
            if not data:
                return decoder.result(), False, False
            if decoder.feed(data):
                return decoder.result(), True, False

    def _read_chunked(self, decoder: _Decoder, deadline: float) -> tuple[bytes, bool, bool]:
        while True:
            while b"\r\n" not in self._buffer:
                if len(self._buffer) > 1024:
                    raise ProtocolError("bad chunk")
                data = self._recv(deadline)
                if not data:
                    raise ProtocolError("body cut short")
                self._buffer += data
            size_line, _, self._buffer = self._buffer.partition(b"\r\n")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise ProtocolError("bad chunk") from exc
            if size == 0:
                # Trailers, if any, end with an empty line; not worth waiting for.
                return decoder.result(), False, False
            while size > 0:
                data = self._buffer or self._recv(deadline)
                self._buffer = b""
                if not data:
                    raise ProtocolError("body cut short")
                data, self._buffer = data[:size], data[size:]
                size -= len(data)
                if decoder.feed(data):
                    return decoder.result(), True, False
            self._buffer = self._buffer[2:] if self._buffer.startswith(b"\r\n") else self._buffer


def _split_proxy(proxy: str) -> tuple[str, str, int, str, str]:
    if "://" not in proxy:
        proxy = "http://" + proxy  # curl's reading of a bare host:port
    scheme = proxy.partition("://")[0].lower()
    if scheme != "http":
        raise Unusable(f"proxy_scheme_{scheme}"[:40])
    return _split_url(proxy)


class _Decoder:
    """A response body's content-encoding undone, its output capped at ``BODY_CAP``."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        self.identity = encoding in ("", "identity")
        self._out: list[bytes] = []
        self._size = 0
        self._taken = 0
        self._zlib: object = None
        self._broken = not self.identity and encoding not in ("gzip", "x-gzip", "deflate")
        if not self.identity and not self._broken:
            import zlib

            self._zlib = zlib.decompressobj(47)  # a gzip or zlib header, detected

    def feed(self, data: bytes) -> bool:
        """Take more of the body; True once the cap is passed (stop reading). The bytes
        taken are capped too: past a compressed stream's end (or in an encoding we cannot
        undo) nothing would be kept, and nothing would stop the reading either."""
        self._taken += len(data)
        if self._taken > BODY_CAP + 1024:
            return True
        if self._broken:
            return False
        if self._zlib is not None:
            import zlib

            try:
                data = self._zlib.decompress(data, BODY_CAP - self._size + 1)  # type: ignore[attr-defined]
            except zlib.error:
                self._broken = True
                return False
        self._out.append(data)
        self._size += len(data)
        return self._size > BODY_CAP

    def result(self) -> bytes:
        if self._broken:
            return b""
        return b"".join(self._out)[:BODY_CAP]
