"""TLS for the exporter's HTTP client (``_wire``): imported only for an ``https://``
destination, so a plain-HTTP or local-file exporter never loads ``ssl``."""

from __future__ import annotations

from otel_cli_telemetry._exporter.sinks._proxy import Unusable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import ssl
    from collections.abc import Callable


def context(factory: Callable[[], ssl.SSLContext] | None, sock: _socket.socket) -> ssl.SSLContext:
    """The caller's TLS context (``factory``), or the verifying default; an unreadable CA or
    client certificate closes ``sock`` and is ``Unusable``."""
    import ssl

    if factory is None:
        return ssl.create_default_context()
    try:
        return factory()
    except (OSError, ValueError) as exc:  # an unreadable CA or client certificate
        sock.close()
        raise Unusable(f"tls_config:{exc.__class__.__name__}") from exc


def handshake(
    tls_context: ssl.SSLContext, sock: _socket.socket, host: str, left: Callable[[], float]
) -> ssl.SSLSocket:
    """TLS over ``sock`` for ``host``, verified, the handshake bounded as a whole: ``left()``
    gives the seconds remaining (raising ``TimeoutError`` when none are)."""
    import select
    import socket  # ssl imports it anyway
    import ssl

    if not isinstance(sock, socket.socket):  # the client's bare ``_socket``: ssl wants these
        try:
            sock = socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        except BaseException:
            sock.close()
            raise

    tls = tls_context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    tls.setblocking(False)
    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                ready = select.select([tls], [], [], left())[0]
            except ssl.SSLWantWriteError:
                ready = select.select([], [tls], [], left())[1]
            if not ready:
                raise TimeoutError("request deadline")
    except BaseException:
        tls.close()
        raise
    tls.setblocking(True)
    return tls
