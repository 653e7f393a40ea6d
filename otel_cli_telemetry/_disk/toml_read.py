"""Reading TOML with the standard parser (``tomllib``; ``tomli`` on 3.10).

Imports nothing of ours, so ``state.read_config`` can load it (only when the config file
exists) without a back-edge to ``state``, which ``toml``'s writer needs.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    parsed: dict[str, Any] = tomllib.loads(text)
    return parsed


def loads_by_line(text: str) -> dict[str, Any]:
    """The top-level ``key = value`` lines that parse on their own (up to the first table)."""
    parsed: dict[str, Any] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("["):
            break
        try:
            parsed.update(loads(line))
        except ValueError:
            continue
    return parsed
