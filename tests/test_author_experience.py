"""What a CLI author and its users see (issue 23): stable error names, exit codes the author
defines, sturdy admin commands, a notice that names a runnable command, an honest ``show``,
a disclosure of the configured destinations only, ``DO_NOT_TRACK``, a thorough ``reset``,
a consent group kept out of ``--help``, crash locations and start-up time."""

from __future__ import annotations

import argparse
import json
import os
import pty
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import locks
from otel_cli_telemetry._disk.otlp_read import attributes as decode
from otel_cli_telemetry._process import crash, run
from otel_cli_telemetry.testing import CapturedSpans
from tests.collector import OtlpReceiver
from tests.conftest import ROOT, cli_env, run_example, wait_for_exporters

PREFIX = {
    "one_command_click.py": "WC",
    "one_command_typer.py": "WC",
    "one_command_argparse.py": "WC",
    "typer_cli.py": "ASSEMBLY",
    "click_cli.py": "NOTES",
    "argparse_cli.py": "TASKS",
}


def debug_spans(stderr: str) -> list[dict[str, Any]]:
    """The command spans a debug-mode run printed on stderr, attributes decoded."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    at = stderr.find('{\n  "resourceSpans"')
    while at != -1:
        request, end = decoder.raw_decode(stderr, at)
        for resource_spans in request["resourceSpans"]:
            for scope in resource_spans["scopeSpans"]:
                for span in scope["spans"]:
                    attrs = decode(span.get("attributes"))
                    if "process.exit.code" in attrs:
                        found.append({"name": span["name"], **attrs})
        at = stderr.find('{\n  "resourceSpans"', end)
    return found


def run_debug(home: Path, script: str, *args: str, **extra: str) -> tuple[Any, dict[str, Any]]:
    """Run an example in debug mode (printed, never sent): (process, its command span)."""
    env = cli_env(home, **{f"{PREFIX[script]}_TELEMETRY_DEBUG": "1"}, **extra)
    proc = run_example(script, *args, env=env)
    [span] = debug_spans(proc.stderr)
    return proc, span


# --- 1. one error, one name --------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "args", "error_type"),
    [
        ("one_command_click.py", ["--bogus"], "click.exceptions.NoSuchOption"),
        ("one_command_click.py", ["missing.py"], "click.exceptions.BadParameter"),
        ("one_command_typer.py", ["--bogus"], "click.exceptions.NoSuchOption"),
        ("typer_cli.py", ["--bogus"], "click.exceptions.NoSuchOption"),
        ("typer_cli.py", ["transcribe", "--bogus"], "click.exceptions.NoSuchOption"),
        ("click_cli.py", ["--bogus"], "click.exceptions.NoSuchOption"),
        ("click_cli.py", ["add", "--bogus"], "click.exceptions.NoSuchOption"),
    ],
)
def test_usage_errors_have_one_name_at_every_level(
    home: Path, tmp_path: Path, script: str, args: list[str], error_type: str
) -> None:
    """A usage error of the root is named by its class as a subcommand's is, and typer's
    vendored click is named as click: the same error, the same ``error.type``."""
    os.chdir(tmp_path)  # `missing.py` really is missing
    proc, span = run_debug(home, script, *args)
    assert proc.returncode == 2
    assert (span["error.type"], span["cli_telemetry.outcome"]) == (error_type, "usage_error")


# --- 2. exit codes the author defines -------------------------------------------------


def test_exit_codes_say_what_a_code_means(home: Path, cli_telemetry: CapturedSpans) -> None:
    """``exit_codes={2: "error", 4: "usage_error"}`` overrides the convention for codes the
    command chose; argparse's own rejection of the command line stays a usage error."""
    telemetry = Telemetry("http", home=home, env={}, exit_codes={2: "error", 4: "usage_error"})
    parser = argparse.ArgumentParser(prog="http")
    parser.add_argument("--timeout", type=float)
    from otel_cli_telemetry.integrations.argparse import instrument, track

    instrument(parser, telemetry)

    def make_main(argv: list[str], code: int) -> Any:
        @track(telemetry)
        def main() -> int:
            parser.parse_args(argv)
            return code

        return main

    assert make_main([], 2)() == 2  # a timeout, as httpie exits
    assert make_main([], 4)() == 4
    with pytest.raises(SystemExit):
        make_main(["--bogus"], 0)()
    with pytest.raises(SystemExit), telemetry.command("plain"):
        sys.exit(2)
    outcomes = [
        (s.attributes["process.exit.code"], s.attributes["cli_telemetry.outcome"])
        for s in cli_telemetry.commands
    ]
    assert outcomes == [(2, "error"), (4, "usage_error"), (2, "usage_error"), (2, "error")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({0: "error"}, "0 always means success"),
        ({256: "error"}, "from 1 to 255"),
        ({"2": "error"}, "from 1 to 255"),
        ({True: "error"}, "from 1 to 255"),
        ({2: "fatal"}, "'fatal' is not an outcome; use one of error, usage_error, interrupted"),
        ({2: "success"}, "is not an outcome"),
        ([2], "must be a mapping"),
    ],
)
def test_exit_codes_are_validated(value: Any, message: str) -> None:
    """A bad ``exit_codes`` fails at construction with a message naming the bad entry."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Telemetry("app", exit_codes=value)


# --- 3. a state directory that cannot be used -------------------------------------------

ADMIN = ["status", "show", "enable", "local", "disable", "reset", "flush", "view"]


@pytest.mark.parametrize("action", ADMIN)
def test_admin_commands_report_a_file_in_place_of_the_state_dir(
    tmp_path: Path, action: str
) -> None:
    """Every admin command, with a regular file where the state directory should be: one
    line on stderr, exit code 1, no traceback."""
    blocked = tmp_path / "home"
    blocked.write_text("not a directory")
    proc = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "demo", "--home",
         str(blocked), action],
        env=cli_env(blocked), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"telemetry {action}: ")
    assert len(proc.stderr.splitlines()) == 1


@pytest.mark.parametrize("action", ["status", "show", "reset"])
def test_a_file_as_state_dir_is_reported_by_the_click_example(tmp_path: Path, action: str) -> None:
    """Through the real click example: its state dir a file gives one line and exit 1."""
    blocked = tmp_path / "home"
    blocked.write_text("")
    proc = run_example("click_cli.py", "telemetry", action, env=cli_env(blocked))
    assert (proc.returncode, "Traceback" in proc.stderr) == (1, False)
    assert proc.stderr.startswith(f"telemetry {action}: ")


# --- 4. the notice names a command that runs ------------------------------------------


def test_the_notice_names_a_command_that_runs_without_python_on_path(
    home: Path, tmp_path: Path
) -> None:
    """The one-command argparse example on a terminal prints the notice; the ``show``
    command it names runs as written, with no ``python`` on PATH and from another cwd."""
    target = tmp_path / "three.txt"
    target.write_text("a\nb\nc\n")
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "one_command_argparse.py"), str(target)],
            env=cli_env(home, WC_TELEMETRY_HOME=str(home), WC_TELEMETRY_DEBUG="1"),
            stdout=subprocess.PIPE, stderr=secondary, stdin=subprocess.DEVNULL,
            timeout=60, check=False,
        )  # fmt: skip
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(primary)
    assert proc.returncode == 0
    text = output.decode().replace("\r\n", "\n")
    assert "See what is sent: " in text, text
    command = text.split("See what is sent: ", 1)[1].split(" show.", 1)[0]
    assert shlex.split(command)[0] == sys.executable
    env = {"WC_TELEMETRY_HOME": str(home), "PATH": "/nonexistent"}
    shown = subprocess.run(
        [*shlex.split(command), "show"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout


# --- 5. show after delivery --------------------------------------------------------------


def test_show_says_what_was_delivered_to_an_otlp_endpoint(home: Path, reap_exporters: Path) -> None:
    """After the exporter delivered to an OTLP endpoint, ``show`` says how many traces went
    there (and that they are not kept), never "Nothing recorded yet"."""
    with OtlpReceiver() as receiver:
        env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url)
        assert run_example("click_cli.py", "add", "milk", env=env).returncode == 0
        receiver.wait_for_spans(1)
        wait_for_exporters(home)
        shown = run_example("click_cli.py", "telemetry", "show", env=env)
    assert shown.returncode == 0
    assert "Nothing recorded yet" not in shown.stdout
    assert "1 trace(s) delivered so far" in shown.stdout
    assert "cannot be shown here" in shown.stdout


# --- 6. disclosure of what is configured ----------------------------------------------


def test_disclosure_lists_only_the_configured_destinations(home: Path) -> None:
    """The click example with no destination discloses neither Datadog nor PostHog; with a
    Datadog token in its environment, Datadog's fields; ``--all`` lists every one."""
    plain = run_example("click_cli.py", "telemetry", "disclosure", env=cli_env(home)).stdout
    assert "process.exit.code" in plain
    assert "Datadog" not in plain
    assert "PostHog" not in plain
    assert "local file sink" in plain
    token = {"NOTES_TELEMETRY_DATADOG_CLIENT_TOKEN": "pub" + "0" * 32}
    datadog = run_example("click_cli.py", "telemetry", "disclosure", env=cli_env(home, **token))
    assert "Datadog logs" in datadog.stdout
    assert "PostHog" not in datadog.stdout
    every = run_example("click_cli.py", "telemetry", "disclosure", "--all", env=cli_env(home))
    assert "Datadog logs" in every.stdout
    assert "PostHog" in every.stdout


# --- 7. DO_NOT_TRACK ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "enabled"),
    [
        ("1", False), ("true", False), ("yes", False), ("no", False), ("off", False),
        ("please", False), ("TRUE", False), ("0", True), ("false", True), ("False", True),
        ("", True), ("  ", True),
    ],
)  # fmt: skip
def test_do_not_track_is_off_for_any_value_but_0_and_false(
    home: Path, value: str, enabled: bool
) -> None:
    """As the README says: any value turns telemetry off but ``0`` and ``false``."""
    assert Telemetry("app", home=home, env={"DO_NOT_TRACK": value}).consent().enabled is enabled


def test_do_not_track_no_leaves_nothing_behind(home: Path) -> None:
    """``DO_NOT_TRACK=no`` with the real argparse example: off, not a file written."""
    proc = run_example("argparse_cli.py", "add", "x", env=cli_env(home, DO_NOT_TRACK="no"))
    assert proc.returncode == 0
    assert not home.exists()


# --- 8. reset ----------------------------------------------------------------------------


def test_reset_removes_locks_and_directories(home: Path, reap_exporters: Path) -> None:
    """After a recorded command, ``reset`` leaves no lock, no queue and no directory."""
    env = cli_env(home)
    assert run_example("click_cli.py", "add", "milk", env=env).returncode == 0
    wait_for_exporters(home)
    assert (home / "state.lock").exists()
    assert (home / "export.lock").exists()
    proc = run_example("click_cli.py", "telemetry", "reset", env=env)
    assert proc.returncode == 0, proc.stderr
    assert not home.exists()


def test_reset_leaves_a_held_lock_and_follows_no_link(home: Path, tmp_path: Path) -> None:
    """A lock another process holds stays; a link in a lock's place is removed, not its
    target."""
    home.mkdir(mode=0o700)
    outside = tmp_path / "precious"
    outside.write_text("keep me")
    os.symlink(outside, home / "export-datadog.lock")
    held = locks.FileLock(str(home / "export.lock"))
    assert held.acquire()
    try:
        removed = Telemetry("app", home=home, env={}).reset()
    finally:
        held.release()
    assert (home / "export.lock").exists()
    assert "export.lock" not in removed
    assert outside.read_text() == "keep me"


# --- 9. a hidden consent group ----------------------------------------------------------

TYPER_APP = """
import sys, typer
from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.integrations.typer import consent_app, instrument
telemetry = Telemetry("demo")
app = typer.Typer(add_completion=False)
if sys.argv.pop(1) == "hidden":
    app.add_typer(consent_app(telemetry, hidden=True), name="telemetry")
@app.command()
def go(x: int = 1) -> None:
    "Go somewhere."
@app.command()
def stop() -> None:
    "Stop."
instrument(app, telemetry)
app()
"""


def test_a_hidden_typer_consent_app_leaves_help_unchanged(home: Path, tmp_path: Path) -> None:
    """``consent_app(telemetry, hidden=True)``: the app's ``--help`` is byte for byte what
    it is without the group, telemetry on; ``telemetry status`` still runs."""
    script = tmp_path / "demo_app.py"
    script.write_text(TYPER_APP)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = cli_env(home, DEMO_TELEMETRY_HOME=str(home), COLUMNS="80")
        return subprocess.run(
            [sys.executable, str(script), *args],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    hidden, without = run("hidden", "--help"), run("none", "--help")
    assert hidden.returncode == 0
    assert "telemetry" not in hidden.stdout
    assert hidden.stdout == without.stdout
    status = run("hidden", "telemetry", "status")
    assert status.returncode == 0
    assert "telemetry: enabled" in status.stdout


def test_a_hidden_click_consent_group_still_runs(home: Path) -> None:
    """``consent_group(telemetry, hidden=True)`` is out of ``--help`` and still runs."""
    from otel_cli_telemetry.integrations.click import consent_group

    telemetry = Telemetry("demo", home=home, env={"DO_NOT_TRACK": "1"})

    @click.group()
    def cli() -> None:
        pass

    cli.add_command(consent_group(telemetry, hidden=True))
    assert "telemetry" not in CliRunner().invoke(cli, ["--help"]).output
    assert CliRunner().invoke(cli, ["telemetry", "status"]).exit_code == 0


# --- where it crashed ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "args", "innermost_app_frame"),
    [
        ("typer_cli.py", ["crash", "--secret", "hunter2"], "__main__:crash:"),
        ("one_command_typer.py", ["missing-file.txt"], "__main__:wc:"),
    ],
)
def test_an_internal_error_records_where_it_crashed(
    home: Path, tmp_path: Path, script: str, args: list[str], innermost_app_frame: str
) -> None:
    """The app's own frames as ``module:function:line``, others collapsed to their package;
    no path, no argument, no message anywhere in what would be sent."""
    os.chdir(tmp_path)
    proc, span = run_debug(home, script, *args)
    assert proc.returncode == 1
    frames = span["cli_telemetry.crash.frames"]
    assert span["cli_telemetry.outcome"] == "internal_error"
    app_frames = [f for f in frames if ":" in f]
    assert app_frames[-1].startswith(innermost_app_frame)
    assert "click" in frames or "typer" in frames
    at = proc.stderr.find('{\n  "resourceSpans"')
    printed = json.dumps(json.JSONDecoder().raw_decode(proc.stderr, at)[0])
    for secret in ("hunter2", "missing-file", "boom", str(ROOT), "/"):
        assert all(secret not in f for f in frames)
    assert "hunter2" not in printed
    assert "missing-file" not in printed


def test_crash_frames_are_bounded_and_collapsed() -> None:
    """Deep recursion keeps the innermost 16 entries; library frames collapse to one name."""

    def dive(n: int) -> None:
        if n == 0:
            json.loads("{")
        dive(n - 1)

    try:
        dive(40)
    except ValueError as exc:
        found = crash.frames(exc, "tests")
    assert len(found) == crash.MAX_FRAMES
    assert found[-1] == "json"
    assert found[-2].startswith("tests.test_author_experience:")
    assert "dive" in found[-2]
    assert all(len(entry) <= crash.MAX_LENGTH for entry in found)


def test_crash_location_can_be_turned_off(home: Path, cli_telemetry: CapturedSpans) -> None:
    """``crash_location=False``: an internal error carries no crash frames."""
    for enabled in (True, False):
        telemetry = Telemetry("app", home=home, env={}, crash_location=enabled)
        with pytest.raises(KeyError), telemetry.command("boom"):
            raise KeyError("x")
    on, off = cli_telemetry.commands
    assert on.attributes["cli_telemetry.crash.frames"][0].startswith("tests.test_author")
    assert "cli_telemetry.crash.frames" not in off.attributes


def test_crash_module_is_loaded_only_for_an_internal_error(home: Path) -> None:
    """A command that succeeds or fails on purpose never imports the crash module."""
    probe = (
        "import sys\n"
        "from otel_cli_telemetry import Telemetry\n"
        "t = Telemetry('probe', env={'PROBE_TELEMETRY_DEBUG': '1'})\n"
        "with t.command('ok'): pass\n"
        "try:\n"
        "    with t.command('fail'): sys.exit(3)\n"
        "except SystemExit: pass\n"
        "print('otel_cli_telemetry._process.crash' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=cli_env(home, PROBE_TELEMETRY_HOME=str(home)),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.stdout.strip() == "False", proc.stderr


# --- how slow it starts --------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc only")
@pytest.mark.parametrize("script", ["click_cli.py", "typer_cli.py", "argparse_cli.py"])
def test_start_up_time_is_on_the_first_command(home: Path, script: str) -> None:
    """Each example's command span says how long the process ran before it: a number of
    milliseconds, at least the interpreter's own start."""
    args = {"click_cli.py": ["add", "x"], "typer_cli.py": ["fail"], "argparse_cli.py": ["add", "x"]}
    _, span = run_debug(home, script, *args[script])
    value = span["cli_telemetry.startup_ms"]
    assert isinstance(value, float)
    assert 0 < value < 600_000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc only")
def test_start_up_time_only_once_per_process(
    home: Path, cli_telemetry: CapturedSpans, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the process's first command waited for its start-up; elsewhere, nothing."""
    monkeypatch.setattr(run, "_startup_measured", False)
    telemetry = Telemetry("app", home=home, env={})
    for _ in range(2):
        with telemetry.command("run"):
            pass
    first, second = cli_telemetry.commands
    assert first.attributes["cli_telemetry.startup_ms"] >= 0
    assert "cli_telemetry.startup_ms" not in second.attributes
    monkeypatch.setattr(sys, "platform", "darwin")
    assert run.startup_ms() is None
