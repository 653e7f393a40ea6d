"""The header fields of a request, as the exporter's HTTP client sends them: one field per
name whatever its case, framing fields ours alone, every value sendable (``Unusable``
otherwise: a setting the child cannot use, recorded and backed off, never a crash)."""

from __future__ import annotations

from otel_cli_telemetry._exporter.sinks._proxy import Unusable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def header_lines(headers: Mapping[str, str]) -> bytes:
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


#: Headers that frame the message or the connection: ours alone to send (a configured one
#: could desynchronise a proxy or the server from the body we send).
_RESERVED = frozenset({"content-length", "transfer-encoding", "connection", "te", "upgrade"})


def merged(ours: dict[str, str], configured: Mapping[str, str]) -> dict[str, str]:
    """``ours`` and then ``configured``, one field per name whatever its case (the later
    wins: a configured ``Host`` replaces ours); ``Unusable`` for a framing header."""
    out: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, value in [*ours.items(), *configured.items()]:
        lowered = name.lower()
        configured_proxy_field = lowered.startswith("proxy-") and name not in ours
        if lowered in _RESERVED or configured_proxy_field:
            raise Unusable(f"header_reserved:{lowered[:40]}")
        out.pop(names.get(lowered, ""), None)
        names[lowered] = name
        out[name] = value
    return out
