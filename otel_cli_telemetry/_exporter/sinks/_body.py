"""A 2xx response body, its content-encoding undone, capped at ``BODY_CAP`` (decompressed
size included: a gzip bomb stops there)."""

from __future__ import annotations

#: Bytes of a 2xx response's body kept at most, after decompression (a partialSuccess
#: answer is a few hundred bytes); past it the body is left unread and the connection closed.
BODY_CAP = 64 * 1024


class Decoder:
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
