"""The persisted choice's file format: flat TOML, written by us and read back with the
standard parser (``toml_read``, which ``state.read_config`` loads only when the file exists).
"""

from __future__ import annotations

import os

from otel_cli_telemetry._disk import state
from otel_cli_telemetry._disk.toml_read import loads as loads
from otel_cli_telemetry._disk.toml_read import loads_by_line as loads_by_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from otel_cli_telemetry._disk.fs import StrPath


_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}  # fmt: skip


def toml_string(value: str) -> str:
    """A TOML basic string that reads back as ``value``: quotes, backslashes and control
    characters escaped (TOML has no JSON ``\\/``, and JSON does not escape DEL), everything
    else written as is, in UTF-8."""
    out = ['"']
    for char in value:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_key(key: str) -> str:
    return key if key and set(key) <= _BARE_KEY else toml_string(key)


def write(path: StrPath, values: Mapping[str, bool | int | str]) -> None:
    """Write ``values`` as TOML that ``read_config`` reads back equal (any key, any string
    that UTF-8 can hold; lone surrogates raise UnicodeEncodeError, a ValueError)."""
    lines = ["# Written by otel-cli-telemetry. Environment variables override this file."]
    for key, value in sorted(values.items()):
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = toml_string(value)
        lines.append(f"{_toml_key(key)} = {rendered}")
    body = ("\n".join(lines) + "\n").encode("utf-8")
    state.ensure_dir(os.path.dirname(path))
    state.atomic_write(path, body)
