"""The embedded default destination: OTLP JSON lines in a size-capped local file.

With no endpoint configured, spans land here and ``python -m otel_cli_telemetry show``
prints them: the library works with no collector, and users can see what would be sent.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from . import ACCEPTED, RETRY, Result


class FileSink:
    """Append each request as one JSON line; rotate to ``<name>.1`` past ``max_bytes``."""

    def __init__(self, path: Path, *, max_bytes: int = 5 * 1024 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes

    def export(self, requests: list[dict[str, Any]], *, timeout_s: float = 0.0) -> Result:
        lines = b"".join(
            json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")
            + b"\n"
            for r in requests
        )
        try:
            self._rotate_if_needed(len(lines))
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as fh:
                fh.write(lines)
        except OSError as exc:
            return Result(RETRY, f"file:{exc.__class__.__name__}")
        return Result(ACCEPTED)

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size + incoming > self.max_bytes:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_s: float = 30.0) -> bool:
        return True


def read_requests(path: Path, *, limit: int = 50) -> list[dict[str, Any]]:
    """The last ``limit`` requests written (rotated file first), skipping bad lines."""
    lines: list[bytes] = []
    for candidate in (path.with_name(path.name + ".1"), path):
        with contextlib.suppress(FileNotFoundError):
            lines.extend(candidate.read_bytes().splitlines())
    out: list[dict[str, Any]] = []
    for raw in lines[-limit:]:
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out
