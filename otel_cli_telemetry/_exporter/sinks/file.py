"""The embedded default destination: OTLP JSON lines in a size-capped local file.

With no endpoint configured, spans land here and ``python -m otel_cli_telemetry show``
prints them: the library works with no collector, and users can see what would be sent.
"""

from __future__ import annotations

import os

from otel_cli_telemetry._disk import fs as _fs
from otel_cli_telemetry._disk import jsontext
from otel_cli_telemetry._exporter.sinks import MAX_BATCH_TRACES, Result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: ``show`` reads at most this much of each file (the sink rotates at 5 MiB by default).
MAX_READ_BYTES = 64 * 1024 * 1024


class FileSink:
    """Append each request as one JSON line; rotate to ``<name>.1`` past ``max_bytes``."""

    max_batch_traces = MAX_BATCH_TRACES

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = 5 * 1024 * 1024) -> None:
        self.path = os.fspath(path)
        self.max_bytes = max_bytes

    def export(self, requests: list[dict[str, Any]], *, timeout_s: float = 0.0) -> Result:
        lines = b"".join(
            # json.dumps(r, separators=(",", ":"), ensure_ascii=False), without ``json``
            jsontext.dumps(r, ensure_ascii=False, allow_nan=True).encode("utf-8", "replace") + b"\n"
            for r in requests
        )
        try:
            self._rotate_if_needed(len(lines))
            fd = self._open()
            with os.fdopen(fd, "ab") as fh:
                fh.write(lines)
        except OSError as exc:
            return Result.retry(f"file:{exc.__class__.__name__}")
        return Result.success()

    def _open(self) -> int:
        """Append to our own regular file: a link, FIFO or directory in its place is moved
        aside (never followed, never waited on) and a fresh file started."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        try:
            return _fs.open_regular(self.path, flags)
        except _fs.NotRegularFile:
            _fs.move_aside(self.path)
            return _fs.open_regular(self.path, flags)

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = os.lstat(self.path).st_size
        except FileNotFoundError:
            return
        if size + incoming > self.max_bytes:
            # os.replace moves the entry itself: a link would be moved, not followed. A
            # directory in the way of the rotated name is moved aside first.
            rotated = self.path + ".1"
            if os.path.isdir(rotated) and not os.path.islink(rotated):
                _fs.move_aside(rotated)
            os.replace(self.path, rotated)

    def shutdown(self) -> None:
        return None


def read_requests(path: str | os.PathLike[str], *, limit: int = 50) -> list[dict[str, Any]]:
    """The last ``limit`` requests written (rotated file first), skipping bad lines."""
    path = os.fspath(path)
    lines: list[bytes] = []
    for candidate in (path + ".1", path):
        try:
            lines.extend(_fs.read_bytes(candidate, MAX_READ_BYTES).splitlines())
        except (OSError, ValueError):  # missing, or not a file of ours
            continue
    out: list[dict[str, Any]] = []
    for raw in lines[-limit:]:
        try:
            value = jsontext.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out
