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
- ``ssl`` is imported, and a TLS context built, only for an ``https://`` destination (a
  plain connection is a bare ``_socket``: see ``_proxy.connect``);
- proxies from ``http(s)_proxy``/``all_proxy``/``no_proxy`` (lower case first, as curl and
  urllib read them): ``http://`` proxies only (absolute-form for ``http://`` targets,
  ``CONNECT`` for ``https://``); another proxy scheme (``socks5://``, ``https://``) is an
  ``Unusable`` setting, never an import error;
- header values in latin-1 where they fit (what ``http.client``, and so the OpenTelemetry
  SDK's exporter, sends), UTF-8 bytes otherwise; a header that cannot be sent at all (a
  name outside the token grammar, a line break in a value) is ``Unusable``.
"""

from __future__ import annotations

import _socket
import os
import time

from otel_cli_telemetry._exporter.sinks._body import BODY_CAP, Decoder
from otel_cli_telemetry._exporter.sinks._fields import header_lines, merged
from otel_cli_telemetry._exporter.sinks._proxy import (
    Unusable,
    basic_auth,
    connect,
    host_header,
    proxy_for,
    split_proxy,
    split_url,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Mapping

__all__ = ["BODY_CAP", "Client", "ProtocolError", "Response", "Unusable", "proxy_for"]

#: Bytes of a response's status line and headers read at most.
HEAD_CAP = 64 * 1024
#: How much one ``recv`` asks for.
_CHUNK = 16 * 1024


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
        self._sock: _socket.socket | None = None
        self._key: tuple[object, ...] | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            try:  # noqa: SIM105 - contextlib.suppress would import contextlib
                self._sock.close()
            except OSError:
                pass
        self._sock, self._key, self._buffer = None, None, b""

    # --- sending ---------------------------------------------------------------------

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Response:
        """POST ``body``; raises ``Unusable``, ``TimeoutError`` or ``OSError``."""
        deadline = self._clock() + timeout_s
        scheme, host, port, target, userinfo = split_url(url)
        proxy = proxy_for(scheme, host, port, self._env)
        fields = {"Host": host_header(host, port, scheme)}
        if userinfo and not any(k.lower() == "authorization" for k in headers):
            fields["Authorization"] = basic_auth(userinfo)
        proxy_auth = None
        if proxy is not None:
            _, proxy_host, proxy_port, _, proxy_info = split_proxy(proxy)
            proxy_auth = basic_auth(proxy_info) if proxy_info else None
            if scheme == "http":
                target = f"http://{fields['Host']}{target}"
                if proxy_auth:
                    fields["Proxy-Authorization"] = proxy_auth
        fields = merged(fields, headers)
        fields["Content-Length"] = str(len(body))
        head = f"POST {target} HTTP/1.1\r\n".encode("ascii") + header_lines(fields) + b"\r\n"
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

    def _connect(self, host: str, port: int, deadline: float) -> _socket.socket:
        return connect(host, port, lambda: self._left(deadline))

    def _tunnel(self, host: str, port: int, auth: str | None, deadline: float) -> None:
        """``CONNECT`` through an http proxy to an https target."""
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = {"Host": where, **({"Proxy-Authorization": auth} if auth else {})}
        request = f"CONNECT {where} HTTP/1.1\r\n".encode("ascii") + header_lines(lines) + b"\r\n"
        self._send(request, deadline)
        status, _ = self._read_head(deadline)
        if status != 200:
            raise ConnectionError(f"proxy answered {status} to CONNECT")

    def _handshake(self, sock: _socket.socket, host: str, deadline: float) -> _socket.socket:
        """TLS over ``sock``, verified, the handshake bounded by the deadline (``_tls``)."""
        from otel_cli_telemetry._exporter.sinks import _tls

        if self._tls is None:
            self._tls = _tls.context(self._tls_factory, sock)
        return _tls.handshake(self._tls, sock, host, lambda: self._left(deadline))

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
            code = rest.partition(" ")[0]  # three digits, then a space (RFC 9112)
            if not (version.startswith("HTTP/1.") and code.isdecimal() and len(code) == 3):
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
        try:
            body, truncated, complete = self._read_body(headers, status, deadline)
        except OSError:  # a ProtocolError, a timeout or a reset, mid-body
            # The server accepted (2xx); only its body cannot be read. Sending the batch
            # again would duplicate it: the answer stands, its details are unknown.
            self.close()
            return Response(status, headers, b"", True)
        keep = complete and "close" not in headers.get("connection", "").lower()
        if not keep:
            self.close()
        return Response(status, headers, body, truncated)

    def _read_body(
        self, headers: dict[str, str], status: int, deadline: float
    ) -> tuple[bytes, bool, bool]:
        """(body decoded up to BODY_CAP, truncated, the whole body was consumed)."""
        decoder = Decoder(headers.get("content-encoding", ""))
        if status in (204, 304):
            return b"", False, True
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked(decoder, deadline)
        length_text = headers.get("content-length")
        if length_text is not None:
            if not (length_text.isascii() and length_text.isdigit()):
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

    def _read_chunked(self, decoder: Decoder, deadline: float) -> tuple[bytes, bool, bool]:
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
            # The chunk's data ends with CRLF, which may come in a later read than the data.
            while len(self._buffer) < 2:
                data = self._recv(deadline)
                if not data:
                    raise ProtocolError("body cut short")
                self._buffer += data
            if not self._buffer.startswith(b"\r\n"):
                raise ProtocolError("bad chunk")
            self._buffer = self._buffer[2:]
