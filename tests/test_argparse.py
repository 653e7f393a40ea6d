"""The argparse integration on a CLI shaped like watchdog's ``watchmedo``: its own ``main()``
(no-argument help with exit 1, log set-up, Ctrl-C as a silent exit 130) keeps its behaviour
byte for byte, and each run is one span named after the subcommand path."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from otel_cli_telemetry.testing import CapturedSpans, capture_spans
from tests.conftest import cli_env, wait_for_exporters

#: The shape of ``watchdog.watchmedo``: a module-level parser, subcommands with handlers,
#: and a ``main()`` that does its own thing around ``parse_args``.
WATCHMEDO = '''
import argparse
import logging
import os
import sys

log = logging.getLogger("wm")
cli = argparse.ArgumentParser(prog="wm", description="Watch things (a watchmedo look-alike).")
cli.add_argument("-v", "--verbose", action="count", default=0)
cli.add_argument("-q", "--quiet", action="count", default=0)
sub = cli.add_subparsers(dest="top_command")


def cmd_log(args):
    log.info("watching %s", args.pattern)
    log.warning("pattern has %d characters", len(args.pattern))
    print("log done")


def cmd_wait(args):
    print("waiting", flush=True)
    raise KeyboardInterrupt


def cmd_crash(args):
    raise RuntimeError("boom")


def cmd_trick(args):
    print(f"trick {len(args.name)}")


p = sub.add_parser("log", aliases=["lg"], help="log events")
p.add_argument("--pattern", default="*")
p.set_defaults(func=cmd_log)
sub.add_parser("wait", help="wait until Ctrl-C").set_defaults(func=cmd_wait)
sub.add_parser("crash", help="fail").set_defaults(func=cmd_crash)
tricks = sub.add_parser("tricks", help="tricks")
tricks_sub = tricks.add_subparsers(dest="trick_command", required=True)
add = tricks_sub.add_parser("add", help="add a trick")
add.add_argument("name")
add.add_argument("--count", type=int, default=1)
add.set_defaults(func=cmd_trick)


def main():
    """Entry point (the console script calls sys.exit(main()))."""
    args = cli.parse_args()
    if args.top_command is None:
        cli.print_help()
        return 1
    verbosity = args.verbose - args.quiet
    logging.basicConfig(
        level=logging.WARNING - 10 * verbosity, format="%(levelname)s %(name)s %(message)s",
        stream=sys.stdout,
    )
    try:
        args.func(args)
    except KeyboardInterrupt:
        return 130
    return 0


if os.environ.get("WM_BARE") != "1":
    from otel_cli_telemetry import Telemetry
    from otel_cli_telemetry.integrations.argparse import instrument, track

    telemetry = Telemetry("wm", version="1.0")
    instrument(cli, telemetry)
    main = track(telemetry)(main)

if __name__ == "__main__":
    sys.exit(main())
'''

#: argv, exit code, span name, outcome
CASES = [
    pytest.param([], 1, "wm", "error", id="no-arguments-help"),
    pytest.param(["log"], 0, "wm log", "success", id="success"),
    pytest.param(["-v", "lg", "--pattern", "secret"], 0, "wm log", "success", id="alias"),
    pytest.param(["wait"], 130, "wm wait", "interrupted", id="ctrl-c-in-main"),
    pytest.param(["crash"], 1, "wm crash", "internal_error", id="exception"),
    pytest.param(["log", "--bogus"], 2, "wm log", "usage_error", id="usage-error-leaf"),
    pytest.param(["tricks", "add"], 2, "wm tricks add", "usage_error", id="usage-error-nested"),
    pytest.param(["tricks"], 2, "wm tricks", "usage_error", id="usage-error-group"),
    pytest.param(["bogus"], 2, "wm", "usage_error", id="usage-error-root"),
    pytest.param(["tricks", "add", "x", "--count", "2"], 0, "wm tricks add", "success", id="deep"),
    pytest.param(["log", "--help"], 0, "wm log", "success", id="help"),
]


@pytest.fixture
def wm_script(tmp_path: Path) -> Path:
    script = tmp_path / "wm.py"
    script.write_text(WATCHMEDO)
    return script


def load(script: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"wm_{id(script)}", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(
    module: ModuleType, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    """What ``sys.exit(main())`` would exit with."""
    monkeypatch.setattr(sys, "argv", ["wm", *argv])
    try:
        code = module.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except RuntimeError:
        code = 1
    return code, ""


@pytest.mark.parametrize(("argv", "code", "name", "outcome"), CASES)
def test_span_is_named_after_the_subcommand_path(
    wm_script: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    code: int,
    name: str,
    outcome: str,
) -> None:
    """Success, errors, Ctrl-C and usage errors (raised inside parse_args) all give one span
    named after the deepest subcommand reached, with the exit code main() produced."""
    monkeypatch.setenv("WM_TELEMETRY_HOME", str(home))
    module = load(wm_script)
    with capture_spans() as captured:
        got, _ = run_main(module, argv, monkeypatch)
    assert got == code
    [span] = captured.commands
    assert span.name == name
    assert span.attributes["process.exit.code"] == code
    assert span.attributes["cli_telemetry.outcome"] == outcome
    assert "secret" not in repr(span.attributes)


def run_cli(script: Path, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, str(script), *argv],
        env=env,
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize(("argv", "code", "name", "outcome"), CASES)
def test_output_and_exit_code_identical_on_and_off(
    wm_script: Path,
    home: Path,
    reap_exporters: Path,
    argv: list[str],
    code: int,
    name: str,
    outcome: str,
) -> None:
    """The real process: stdout, stderr and exit code are the same bytes with telemetry on
    and off; where the help lists no subcommands, the same as the uninstrumented CLI too."""
    on_env = cli_env(home, WM_TELEMETRY_HOME=str(home))
    off_env = cli_env(home, WM_TELEMETRY_HOME=str(home), DO_NOT_TRACK="1")
    on = run_cli(wm_script, *argv, env=on_env)
    off = run_cli(wm_script, *argv, env=off_env)
    assert on.returncode == code
    assert (on.returncode, on.stdout, on.stderr) == (off.returncode, off.stdout, off.stderr)
    if argv and argv[0] not in ("crash", "bogus") and "--bogus" not in argv:
        # (tracebacks show the wrapper's frame; the root's usage lists `telemetry`)
        bare = run_cli(wm_script, *argv, env=cli_env(home, WM_BARE="1"))
        assert (on.returncode, on.stdout, on.stderr) == (
            bare.returncode,
            bare.stdout,
            bare.stderr,
        )
    if name == "wm":
        assert b"usage: wm" in (on.stdout + on.stderr)
    wait_for_exporters(home)


def test_ctrl_c_is_silent_and_log_setup_runs(wm_script: Path, home: Path) -> None:
    """What the issue saw break: no traceback on Ctrl-C, the log level set-up still runs, and
    the no-argument help still exits 1."""
    env = cli_env(home, DO_NOT_TRACK="1")
    wait = run_cli(wm_script, "wait", env=env)
    assert (wait.returncode, wait.stdout, wait.stderr) == (130, b"waiting\n", b"")
    logged = run_cli(wm_script, "-v", "log", env=env)
    assert logged.stdout == (b"INFO wm watching *\nWARNING wm pattern has 1 characters\nlog done\n")
    bare = run_cli(wm_script, env=env)
    assert bare.returncode == 1
    assert bare.stdout.startswith(b"usage: wm")


def test_consent_commands_are_subcommands(
    wm_script: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``wm telemetry <command>`` runs each entry of the admin table (whatever it holds),
    is never recorded, and the notice names these commands."""
    from otel_cli_telemetry._admin import cli as admin

    monkeypatch.setenv("WM_TELEMETRY_HOME", str(home))
    module = load(wm_script)
    assert module.telemetry.consent_command == "wm telemetry"
    assert "wm telemetry disable" in module.telemetry.notice_text()
    with capture_spans() as captured:
        code, _ = run_main(module, ["telemetry", "--help"], monkeypatch)
        assert code == 0
        listing = capsys.readouterr().out
        for command in admin.COMMANDS:
            assert command.name in listing
        code, _ = run_main(module, ["telemetry", "disable"], monkeypatch)
        assert code == 0
        assert "Telemetry disabled for wm" in capsys.readouterr().out
        assert not module.telemetry.consent().enabled
        code, _ = run_main(module, ["telemetry", "status"], monkeypatch)
        assert code == 0
        assert capsys.readouterr().out
        code, _ = run_main(module, ["telemetry", "enable"], monkeypatch)
        assert code == 0
        code, _ = run_main(module, ["-v", "telemetry", "bogus"], monkeypatch)
        assert code == 2
    assert captured.commands == []


def test_parser_without_subcommands(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-command argparse CLI: instrumented as it is (no subcommand added, help
    unchanged), the span is the app's name, and the notice names the module CLI."""
    import argparse

    from otel_cli_telemetry import Telemetry
    from otel_cli_telemetry.integrations.argparse import instrument, track

    def make() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="one")
        parser.add_argument("path")
        return parser

    telemetry = Telemetry("one", home=home, env={})
    parser = make()
    before = make().format_help()
    instrument(parser, telemetry)
    assert parser.format_help() == before

    @track(telemetry)
    def main(argv: list[str]) -> int:
        args = parser.parse_args(argv)
        return 0 if args.path else 3

    with capture_spans() as captured:
        assert main(["file.txt"]) == 0
        with pytest.raises(SystemExit) as exc:
            main([])
    assert exc.value.code == 2
    assert [(s.name, s.attributes["process.exit.code"]) for s in captured.commands] == [
        ("one", 0),
        ("one", 2),
    ]
    assert telemetry.consent_command is None
    assert "python -m otel_cli_telemetry --service one disable" in telemetry.notice_text()


def test_track_keeps_what_main_returns(home: Path) -> None:
    """The wrapper hands back main's own return value and metadata, and records an int."""
    from otel_cli_telemetry import Telemetry
    from otel_cli_telemetry.integrations.argparse import track

    telemetry = Telemetry("one", home=home, env={})

    def main() -> int:
        """Doc."""
        return 4

    wrapped = track(telemetry)(main)
    assert (wrapped.__name__, wrapped.__doc__) == ("main", "Doc.")
    with capture_spans() as captured:
        assert wrapped() == 4
    assert captured.commands[0].attributes["process.exit.code"] == 4


def test_run_still_works(home: Path, cli_telemetry: CapturedSpans) -> None:
    """The old ``run()`` keeps parsing and dispatching, now also naming usage errors."""
    import argparse

    from otel_cli_telemetry import Telemetry
    from otel_cli_telemetry.integrations.argparse import run

    telemetry = Telemetry("tasks", home=home, env={})
    parser = argparse.ArgumentParser(prog="tasks")
    sub = parser.add_subparsers(required=True)
    add = sub.add_parser("add")
    add.add_argument("n", type=int)
    add.set_defaults(func=lambda args: args.n)
    assert run(telemetry, parser, ["add", "3"]) == 3
    with pytest.raises(SystemExit):
        run(telemetry, parser, ["add", "x"])
    assert [(s.name, s.attributes["process.exit.code"]) for s in cli_telemetry.commands] == [
        ("tasks add", 3),
        ("tasks add", 2),
    ]


_IMPORT_PROBE = """
import sys
import argparse
# What argparse itself loads while building and parsing (shutil, locale, ...), first.
warm = argparse.ArgumentParser(prog="warm")
warm.add_subparsers(dest="cmd").add_parser("go")
warm.parse_args(["go"])
before = set(sys.modules)
import otel_cli_telemetry.integrations.argparse as integration
from otel_cli_telemetry import Telemetry
parser = argparse.ArgumentParser(prog="lean")
sub = parser.add_subparsers(dest="cmd")
sub.add_parser("go")
t = Telemetry("lean")
integration.instrument(parser, t)
@integration.track(t)
def main():
    parser.parse_args(["go"])
    return 0
main()
print(repr(sorted(set(sys.modules) - before)))
"""


def test_off_path_adds_nothing_beyond_argparse(tmp_path: Path) -> None:
    """With an opt-out, the integration loads nothing beyond what ``import argparse``
    loaded and the package's light entry."""
    import ast

    from tests.test_imports import LIGHT_ENTRY, probe_env

    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        env=probe_env(sandbox, DO_NOT_TRACK="1"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    added = set(ast.literal_eval(proc.stdout.strip().splitlines()[-1]))
    allowed = LIGHT_ENTRY | {
        "otel_cli_telemetry.integrations",
        "otel_cli_telemetry.integrations.argparse",
    }
    assert "otel_cli_telemetry.integrations.argparse" in added
    assert sorted(added - allowed) == []
    assert sorted(p.name for p in sandbox.iterdir()) == []


def test_example_runs_its_own_main(home: Path) -> None:
    """The shipped example keeps its main(): its commands and ``tasks telemetry`` work."""
    from tests.conftest import run_example

    env = cli_env(home, DO_NOT_TRACK="1")
    added = run_example("argparse_cli.py", "add", "write report", env=env)
    assert (added.returncode, added.stdout) == (0, "added a task of 12 characters\n")
    done = run_example("argparse_cli.py", "done", "0", env=env)
    assert (done.returncode, done.stderr) == (1, "no such task\n")
    status = run_example("argparse_cli.py", "telemetry", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "DO_NOT_TRACK" in status.stdout
