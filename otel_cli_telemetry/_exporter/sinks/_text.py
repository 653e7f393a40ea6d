"""Small text helpers the intake sinks share, each standing in for a standard module whose
import costs an exporter child more than the work (``uuid`` ~35 M instructions, ``json``
~30 M, ``urllib.parse`` ~36 M): the same output, from built-in modules only."""

from __future__ import annotations

from otel_cli_telemetry._disk import jsontext
from otel_cli_telemetry._disk.state import uuid_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def uuid5(namespace: str, name: str) -> str:
    """``str(uuid.uuid5(uuid.UUID(namespace), name))``: a name-based (SHA-1) UUID."""
    try:
        from _sha1 import sha1  # type: ignore[import-not-found]  # built in; hashlib loads OpenSSL
    except ImportError:  # pragma: no cover - a build without it
        from hashlib import sha1
    # SHA-1 is what a version 5 UUID is made of (RFC 4122), not a security measure.
    data = bytes.fromhex(namespace.replace("-", "")) + name.encode("utf-8")
    digest: bytes = sha1(data).digest()  # noqa: S324
    return uuid_text(digest, 5)


def form(fields: dict[str, str]) -> str:
    """``urllib.parse.urlencode(fields)``: ``k=v&...``, each side as ``quote_plus`` spells it."""
    return "&".join(f"{_quote_plus(k)}={_quote_plus(v)}" for k, v in fields.items())


def _quote_plus(text: str) -> str:
    return "".join(
        chr(b) if b in _UNRESERVED else "+" if b == 0x20 else f"%{b:02X}"
        for b in text.encode("utf-8")
    )


def json_text(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)``."""
    try:
        return jsontext.dumps(value, ensure_ascii=False, allow_nan=True)
    except TypeError:  # a value JSON has no type for: ``json`` does the ``default=str``
        import json

        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
