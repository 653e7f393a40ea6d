"""argparse integration: keep your own ``main()``; every run becomes one span named after the
subcommand path, and the consent commands become subcommands.

>>> parser = build_parser()                      # doctest: +SKIP
>>> instrument(parser, telemetry)                # names spans; adds `prog telemetry ...`
>>> @track(telemetry)                            # the span covers your main(), unchanged
... def main() -> int:
...     args = parser.parse_args()
...     ...

Nothing of ``main()`` is replaced: its own help, logging set-up, Ctrl-C handling, return
value and exceptions stay exactly as they were. The span is renamed while argparse parses,
as each subparser is entered, so a usage error of ``tasks remote add --bogus`` (argparse
exits 2 from inside ``parse_args``) is recorded as ``tasks remote add``. An ``int`` returned
by ``main()`` is the exit code (``sys.exit(main())``).

The consent commands (``prog telemetry status|enable|disable|show|...``, built from the
admin command table) act while the arguments are parsed, like ``--help``: they print, exit,
and are never recorded. A parser without subcommands gets none; its users reach the same
commands through ``python -m otel_cli_telemetry --service NAME``, which the notice names.

This module imports nothing beyond what ``import argparse`` loads (the admin table is
imported only when a ``telemetry`` command runs): an opted-out argparse CLI pays nothing.
"""

import argparse
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn, TypeVar

    from otel_cli_telemetry._process.run import CommandHandle
    from otel_cli_telemetry.telemetry import Telemetry

    F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["instrument", "run", "track"]

#: On each parser entered: its subcommand path (``"remote add"``; the root's is ``""``).
_PATH = "_otel_cli_telemetry_path"
#: On the ``telemetry`` parser: the Telemetry whose consent commands it holds.
_CONSENT = "_otel_cli_telemetry_consent"
#: On each consent leaf parser: its admin command.
_ADMIN = "_otel_cli_telemetry_admin"
_HOOKED = "_otel_cli_telemetry_hooked"

#: The handles of the wrapped ``main()`` calls in progress, innermost last. A CLI parses on
#: one thread; a plain list keeps ``contextvars`` off an opted-out run's import list.
_handles: "list[CommandHandle]" = []
#: Names under which consent commands are mounted: a run of one starts no span at all.
_consent_names: "set[str]" = set()


class _NamingSubParsers(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The subparsers action, renaming the open span as argparse descends into a subcommand
    and running a consent command once its arguments are parsed. Swapped in as the class of
    the author's own action objects, so nothing of their configuration changes."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: "Any",
        option_string: "str | None" = None,
    ) -> None:
        chosen = values[0] if values else None
        sub = self._name_parser_map.get(chosen) if isinstance(chosen, str) else None
        if sub is not None:
            # An alias is recorded under the name it aliases (the first one registered).
            canonical = next(k for k, v in self._name_parser_map.items() if v is sub)
            path = f"{getattr(parser, _PATH, '')} {canonical}".strip()
            setattr(sub, _PATH, path)
            _hook_actions(sub)
            consent = getattr(sub, _CONSENT, None)
            if _handles:
                if consent is not None or getattr(parser, _CONSENT, None) is not None:
                    _handles[-1].discard()  # `telemetry disable` must leave no trace
                else:
                    _handles[-1].set_name(path)
            if consent is not None:
                _add_admin_commands(sub, consent)
        super().__call__(parser, namespace, values, option_string)
        admin = getattr(sub, _ADMIN, None) if sub is not None else None
        if admin is not None:
            command, telemetry = admin
            code = command.run_parsed(telemetry, namespace)
            sys.stdout.flush()
            parser.exit(code)


def _hook_actions(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and not isinstance(
            action, _NamingSubParsers
        ):
            action.__class__ = _NamingSubParsers


def _subparsers(parser: argparse.ArgumentParser) -> "argparse._SubParsersAction[Any] | None":
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _add_admin_commands(consent_parser: argparse.ArgumentParser, telemetry: "Telemetry") -> None:
    """Fill the ``telemetry`` parser from the admin command table (on first use only)."""
    action = _subparsers(consent_parser)
    if action is None or action.choices:
        return
    from otel_cli_telemetry._admin.commands import COMMANDS

    for command in COMMANDS:
        leaf = action.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(leaf)
        setattr(leaf, _ADMIN, (command, telemetry))


class _ConsentParser(argparse.ArgumentParser):
    """The ``telemetry`` parser until something first looks at it: none of its attributes
    exists yet, so the first read of one (argparse entering it, its ``--help``, a tool
    listing the parsers) comes here and makes it, as the author's parser class, there and
    then. An app that never runs ``telemetry`` pays for no parser (and argparse's help
    formatter, which ``add_subparsers`` runs to compute the usage prefix)."""

    def __getattr__(self, name: str) -> "Any":
        # Only names the instance lacks come here; once made, it has them all.
        deferred = self.__dict__.pop("_otel_cli_telemetry_deferred", None)
        if deferred is None:
            raise AttributeError(name)
        parser_class, kwargs, telemetry = deferred
        try:  # noqa: SIM105 - contextlib is not loaded on this path
            self.__class__ = parser_class
        except TypeError:  # pragma: no cover - a parser class with its own layout
            pass
        parser_class.__init__(self, **kwargs)
        self.add_subparsers(title="commands", metavar="COMMAND", required=True)
        setattr(self, _CONSENT, telemetry)
        return getattr(self, name)


def _mount_consent_parser(
    subparsers: "argparse._SubParsersAction[Any]", name: str, telemetry: "Telemetry"
) -> None:
    """``subparsers.add_parser(name, ...)`` (its help line, its place in the choices), with
    the parser itself made on first use (``_ConsentParser``)."""
    help_text = f"Control the usage telemetry of {telemetry.app_name}."
    parser_class = subparsers._parser_class

    def deferred(**kwargs: "Any") -> _ConsentParser:
        cls: type[_ConsentParser] = _ConsentParser
        if parser_class is not argparse.ArgumentParser:
            # An instance of the app's own class from the start, for ``isinstance``.
            name = f"Deferred{getattr(parser_class, '__name__', 'Parser')}"
            try:  # noqa: SIM105 - contextlib is not loaded on this path
                cls = type(name, (_ConsentParser, parser_class), {})
            except TypeError:  # pragma: no cover - a class that cannot be mixed with
                pass
        parser = cls.__new__(cls)
        parser.__dict__["_otel_cli_telemetry_deferred"] = (parser_class, kwargs, telemetry)
        return parser

    subparsers._parser_class = deferred  # type: ignore[assignment]
    try:
        subparsers.add_parser(name, help=help_text, description=help_text)
    finally:
        subparsers._parser_class = parser_class


def instrument(
    parser: argparse.ArgumentParser,
    telemetry: "Telemetry",
    *,
    consent_command: "str | None" = "telemetry",
) -> argparse.ArgumentParser:
    """Name the spans of ``parser``'s runs after the subcommand path, and mount the consent
    commands as the ``consent_command`` subcommand (``None``: do not mount them).

    Call it once the subcommands are added; wrap ``main()`` with ``track(telemetry)``.
    A parser without subcommands is left as it is (see the module's docstring).
    Returns ``parser``, instrumented in place.
    """
    if getattr(parser, _HOOKED, False):
        return parser
    setattr(parser, _HOOKED, True)
    setattr(parser, _PATH, "")
    subparsers = _subparsers(parser)
    if consent_command and subparsers is not None:
        _mount_consent_parser(subparsers, consent_command, telemetry)
        _consent_names.add(consent_command)
        telemetry.consent_command = f"{parser.prog} {consent_command}"
    _hook_actions(parser)
    original = parser.parse_known_args

    def parse_known_args(
        args: "Sequence[str] | None" = None, namespace: "argparse.Namespace | None" = None
    ) -> "tuple[argparse.Namespace, list[str]]":
        _hook_actions(parser)  # subcommands added after instrument() are covered too
        try:
            return original(args, namespace)
        except SystemExit as exc:
            if _handles and exc.code not in (0, None):
                _handles[-1].usage_error = True  # argparse refused the command line
            raise

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign,assignment]
    original_error = parser.error

    def error(message: str) -> "NoReturn":
        # ``parse_args`` rejects unrecognised arguments after ``parse_known_args`` returned
        if _handles:
            _handles[-1].usage_error = True
        original_error(message)

    parser.error = error  # type: ignore[method-assign]
    return parser


def _runs_consent_command(argv: "Sequence[str]") -> bool:
    first = next((a for a in argv if not a.startswith("-")), None)
    return first in _consent_names


def track(telemetry: "Telemetry") -> "Callable[[F], F]":
    """Decorate ``main()`` so that each call is one span; nothing else about it changes.

    An ``int`` it returns is recorded as the exit code (the usual ``sys.exit(main())``);
    ``SystemExit``, ``KeyboardInterrupt`` and exceptions are recorded and propagate.
    """

    def decorate(main: "F") -> "F":
        def wrapper(*args: "Any", **kwargs: "Any") -> "Any":
            if _consent_names and _runs_consent_command(sys.argv[1:]):
                return main(*args, **kwargs)
            with telemetry.command("") as handle:
                _handles.append(handle)
                try:
                    result = main(*args, **kwargs)
                finally:
                    _handles.remove(handle)
                if isinstance(result, int) and not isinstance(result, bool):
                    handle.exit_code = result
                elif isinstance(result, str):
                    handle.exit_code = 1  # sys.exit("message") exits 1
                return result

        from otel_cli_telemetry._process.run import update_wrapper

        update_wrapper(wrapper, main)
        return wrapper  # type: ignore[return-value]

    return decorate


def run(
    telemetry: "Telemetry",
    parser: argparse.ArgumentParser,
    argv: "Sequence[str] | None" = None,
    *,
    handler: str = "func",
) -> int:
    """The old way (kept for existing CLIs; prefer ``instrument`` + ``track``, which keep
    your ``main()``): parse ``argv``, call ``args.<handler>(args)`` and return its exit code,
    all in one span.

    A handler returning ``None`` means exit code 0. ``SystemExit`` and exceptions propagate
    unchanged. The consent commands are mounted as with ``instrument``.
    """
    instrument(parser, telemetry)

    def main() -> int:
        args = parser.parse_args(argv)
        func: Any = getattr(args, handler, None)
        if func is None:
            return 0
        result = func(args)
        return result if isinstance(result, int) and not isinstance(result, bool) else 0

    code: int = track(telemetry)(main)()
    return code
