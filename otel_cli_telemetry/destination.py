"""Where spans go, resolved in the CLI process and handed to the exporter child.

The child never reads the host's configuration or imports its code: it reads this
description from ``destination.json`` (0600, in the private state dir), which the CLI
rewrites only when it changed. Headers may hold credentials: they are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import config, state

FILE = "file"
OTLP = "otlp"
KINDS = (FILE, OTLP)


@dataclass(frozen=True)
class Destination:
    kind: str = FILE
    endpoint: str | None = None
    protocol: str = config.DEFAULT_PROTOCOL
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = config.DEFAULT_TIMEOUT_S
    compression: str | None = None
    #: The exporter child exits by this many seconds after it starts, whatever happens.
    deadline_s: float = config.DEFAULT_EXPORT_DEADLINE_S
    #: Size cap of the local file sink before it rotates.
    file_max_bytes: int = 5 * 1024 * 1024

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

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
        if kind == OTLP and not (isinstance(endpoint, str) and endpoint.startswith("http")):
            raise ValueError("an OTLP destination needs an http(s) endpoint")
        protocol = data.get("protocol", config.DEFAULT_PROTOCOL)
        if protocol not in config.PROTOCOLS:
            raise ValueError("unsupported protocol")
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
        )

    def describe(self) -> str:
        """A human summary without secrets, for ``status``."""
        if self.kind == FILE:
            return "local file (embedded default)"
        header_note = f", {len(self.headers)} header(s)" if self.headers else ""
        return f"OTLP {self.protocol} to {self.endpoint}{header_note}"


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
    )


def save(path: Path, destination: Destination) -> None:
    """Persist for the exporter child, rewriting only when it changed."""
    wanted = destination.to_json()
    try:
        if state.read_json(path) == wanted:
            return
    except (ValueError, OSError):
        pass
    state.write_json(path, wanted)


def load(path: Path) -> Destination:
    """The destination the last command chose; the local file sink if none or unreadable."""
    try:
        data = state.read_json(path)
    except (ValueError, OSError):
        return Destination()
    if data is None:
        return Destination()
    try:
        return Destination.from_json(data)
    except (ValueError, TypeError):
        return Destination()
