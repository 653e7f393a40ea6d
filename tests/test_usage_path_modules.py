"""The usage path's module list is a budget: one recorded command of a minimal app (default
sink, no ``TRACEPARENT``, exit 0, no exporter running) loads exactly these modules of ours,
in a real process. A module that creeps back onto the path (or leaves it) fails here, and the
list below is where the change is argued."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.test_imports import LIGHT_ENTRY
from tests.test_path_imports import OURS, added

#: What a recorded command runs beyond the light entry: the state dir and its trust checks,
#: JSON text, the recorder (span, gate, light span, attributes, config), the identity, the
#: OTLP/JSON encoder, the spool write and the queue's record, the back-off check and the
#: marker claim, the launcher. Not ``command`` (a success needs no classification),
#: ``delivery`` (the launcher reads the back-off through ``retry``), nor the spool's readers.
USAGE_PATH = frozenset(
    f"{OURS}.{name}"
    for name in (
        "_disk.destination", "_disk.enqueue", "_disk.fs", "_disk.identity", "_disk.jsontext",
        "_disk.marker", "_disk.otlp_json", "_disk.retry", "_disk.state",
        "_process.attributes", "_process.config", "_process.gate", "_process.handoff",
        "_process.launcher", "_process.light", "_process.recorder", "_process.session",
        "_version",
    )
) | (
    # Before 3.11 (no ``-P``) and on Windows the launcher starts the child with Popen.
    {f"{OURS}._process.popen"}
    if sys.version_info < (3, 11) or sys.platform == "win32"
    else set()
)  # fmt: skip
#: The light entry minus ``noop`` (``telemetry.tracer`` when off: not asked for here).
ENTRY = LIGHT_ENTRY - {f"{OURS}._process.noop"}


def test_one_recorded_command_loads_exactly_the_usage_path(tmp_path: Path) -> None:
    """A recorded command of the lean app loads the light entry and the usage path's modules
    of ours, no more and no fewer."""
    ours = {m for m in added("lean", "", False, tmp_path) if m.startswith(OURS)}
    assert sorted(ours - (ENTRY | USAGE_PATH)) == []
    assert sorted((ENTRY | USAGE_PATH) - ours) == []


def test_a_success_is_recorded_as_command_would_classify_it() -> None:
    """The recorder's success (used without loading ``command``) is what ``command`` says of a
    block that raised nothing and chose no exit code."""
    from otel_cli_telemetry._process import command, recorder

    assert command.classify(None) == command.ExitStatus(0, recorder.SUCCESS)


def test_the_successes_known_without_command_are_those_classify_calls_successes() -> None:
    """``run._succeeded`` says success exactly where ``command.classify`` gives exit code 0,
    for the shapes it recognises (nothing escaped, ``SystemExit`` of None, 0 or False)."""
    from otel_cli_telemetry._process import command
    from otel_cli_telemetry._process.run import CommandHandle, _succeeded

    cases: list[tuple[BaseException | None, int | None]] = [
        (None, None), (None, 0), (None, 3), (SystemExit(), None), (SystemExit(0), 5),
        (SystemExit(False), None), (SystemExit(0.0), None), (SystemExit("bye"), None),
        (SystemExit(2), None), (KeyboardInterrupt(), None), (ValueError(), None),
    ]  # fmt: skip
    for exc, chosen in cases:
        handle = CommandHandle()
        handle.exit_code = chosen
        if _succeeded(exc, handle):
            assert command.classify(exc, default_code=chosen or 0).code == 0, (exc, chosen)
    assert [_succeeded(e, CommandHandle()) for e in (None, SystemExit(0), SystemExit(1))] == [
        True, True, False,
    ]  # fmt: skip
