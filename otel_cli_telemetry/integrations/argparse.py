"""argparse integration: parse, dispatch and record a subcommand-based CLI in one call.

>>> parser = argparse.ArgumentParser(prog="tasks")             # doctest: +SKIP
>>> sub = parser.add_subparsers(required=True)
>>> add = sub.add_parser("add"); add.set_defaults(func=cmd_add)
>>> sys.exit(run(telemetry, parser))

The span is named after the subcommand path (``tasks remote add``); a usage error
(argparse exits 2) is recorded as ``usage_error``; the handler's ``int`` return value is
the exit code.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from otel_cli_telemetry.telemetry import Telemetry

__all__ = ["run"]

_PATH = "_otel_cli_telemetry_command_path"


def _tag(parser: argparse.ArgumentParser, path: list[str]) -> None:
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        tagged: set[int] = set()
        for name, sub in action.choices.items():
            if id(sub) in tagged:
                continue  # an alias of a parser already tagged with its canonical name
            tagged.add(id(sub))
            sub.set_defaults(**{_PATH: " ".join([*path, name])})
            _tag(sub, [*path, name])


def run(
    telemetry: Telemetry,
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
    *,
    handler: str = "func",
) -> int:
    """Parse ``argv``, call ``args.<handler>(args)`` and return its exit code, all in one span.

    Handlers are attached the usual way, ``subparser.set_defaults(func=...)``. A handler
    returning ``None`` means exit code 0. ``SystemExit`` and exceptions propagate unchanged.
    """
    _tag(parser, [])
    with telemetry.command("") as handle:
        args = parser.parse_args(argv)
        path = getattr(args, _PATH, "")
        if path:
            handle.set_name(path)
        func: Any = getattr(args, handler, None)
        if func is None:
            return 0
        result = func(args)
        code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        handle.exit_code = code
        return code
