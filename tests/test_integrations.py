"""click, typer and argparse integrations: every exit path, checked on the exported span.

These tests use the library's own test kit (the ``cli_telemetry`` fixture), as a CLI
author would.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import click
import pytest
import typer
from click.testing import CliRunner as ClickRunner
from typer.testing import CliRunner as TyperRunner

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._admin import cli
from otel_cli_telemetry.integrations import argparse as argparse_integration
from otel_cli_telemetry.integrations.click import consent_group
from otel_cli_telemetry.integrations.click import instrument as instrument_click
from otel_cli_telemetry.integrations.typer import consent_app
from otel_cli_telemetry.integrations.typer import instrument as instrument_typer
from otel_cli_telemetry.testing import CapturedSpans, TelemetrySpy


def make_click_cli(telemetry: Telemetry) -> click.Group:
    @click.group()
    def cli() -> None:
        """A click app with a nested group."""

    @cli.group()
    def transcript() -> None:
        pass

    @transcript.command()
    @click.option("--verbose", is_flag=True)
    @click.option("--token", default="")
    @click.argument("name")
    def get(name: str, verbose: bool, token: str) -> None:
        click.echo(f"got {len(name)}")

    @cli.command()
    @click.pass_context
    def done(ctx: click.Context) -> None:
        ctx.exit(0)

    @cli.command()
    @click.pass_context
    def three(ctx: click.Context) -> None:
        ctx.exit(3)

    @cli.command()
    def abort() -> None:
        raise click.Abort

    @cli.command()
    def exits() -> None:
        sys.exit(4)

    @cli.command()
    def crash() -> None:
        raise RuntimeError("secret message")

    @cli.command()
    def interrupt() -> None:
        raise KeyboardInterrupt

    cli.add_command(consent_group(telemetry))
    return instrument_click(cli, telemetry, options=["--verbose"])  # type: ignore[return-value]


CLICK_CASES = [
    (["transcript", "get", "x"], "assembly transcript get", 0, "success", None),
    (["done"], "assembly done", 0, "success", None),
    (["three"], "assembly three", 3, "error", "_OTHER"),
    (["abort"], "assembly abort", 1, "interrupted", "click.exceptions.Abort"),
    (["exits"], "assembly exits", 4, "error", "_OTHER"),
    (["crash"], "assembly crash", 1, "internal_error", "RuntimeError"),
    (["interrupt"], "assembly interrupt", 1, "interrupted", "KeyboardInterrupt"),
    (["transcript", "get"], "assembly transcript get", 2, "usage_error", None),
    (["nosuch"], "assembly", 2, "usage_error", None),
]


@pytest.mark.parametrize(("args", "name", "code", "outcome", "error_type"), CLICK_CASES)
def test_click_exit_paths(
    cli_telemetry: CapturedSpans,
    home: Path,
    args: list[str],
    name: str,
    code: int,
    outcome: str,
    error_type: str | None,
) -> None:
    """The span's exit code is the one the process exits with; outcome from the cause."""
    telemetry = Telemetry("assembly", home=home)
    result = ClickRunner().invoke(make_click_cli(telemetry), args)
    assert result.exit_code == code
    [span] = cli_telemetry.commands
    assert span.name == name
    assert span.attributes["process.exit.code"] == code
    assert span.attributes["cli_telemetry.outcome"] == outcome
    if error_type is None and code:
        assert str(span.attributes["error.type"]).startswith("click.exceptions.")
    else:
        assert span.attributes.get("error.type") == error_type
    assert "secret message" not in repr(span.attributes)


def test_click_records_allow_listed_option_names_never_values(
    cli_telemetry: CapturedSpans, home: Path
) -> None:
    """The click integration records allow-listed option names but never option values."""
    telemetry = Telemetry("assembly", home=home)
    result = ClickRunner().invoke(
        make_click_cli(telemetry), ["transcript", "get", "--verbose", "--token", "s3cr3t", "x"]
    )
    assert result.exit_code == 0
    [span] = cli_telemetry.commands
    assert span.attributes["cli_telemetry.options"] == ["--verbose"]
    assert "s3cr3t" not in repr(span.attributes)


def test_click_standalone_mode_off(cli_telemetry: CapturedSpans, home: Path) -> None:
    """standalone_mode=False: ctx.exit(n) returns n; exceptions propagate unchanged."""
    cli = make_click_cli(Telemetry("assembly", home=home))
    assert cli.main(["three"], standalone_mode=False) == 3
    with pytest.raises(RuntimeError, match="secret"):
        cli.main(["crash"], standalone_mode=False)
    with pytest.raises(click.UsageError):
        cli.main(["nosuch"], standalone_mode=False)
    codes = [s.attributes["process.exit.code"] for s in cli_telemetry.commands]
    outcomes = [s.attributes["cli_telemetry.outcome"] for s in cli_telemetry.commands]
    assert codes == [3, 1, 2]
    assert outcomes == ["error", "internal_error", "usage_error"]


def test_consent_commands_are_not_recorded(cli_telemetry: CapturedSpans, home: Path) -> None:
    """`telemetry status` / `disable` leave no span behind."""
    cli = make_click_cli(Telemetry("assembly", home=home))
    assert ClickRunner().invoke(cli, ["telemetry", "status"]).exit_code == 0
    assert ClickRunner().invoke(cli, ["telemetry", "disable"]).exit_code == 0
    assert cli_telemetry.spans == []


def make_typer_app(telemetry: Telemetry) -> typer.Typer:
    app = typer.Typer(add_completion=False)
    transcript = typer.Typer()
    app.add_typer(transcript, name="transcript")

    @transcript.command("get")
    def get(name: str, verbose: bool = False) -> None:
        typer.echo(f"got {len(name)}")

    @app.command()
    def fail(code: int = 3) -> None:
        raise typer.Exit(code)

    @app.command()
    def crash() -> None:
        raise ValueError("secret message")

    @app.command()
    def interrupt() -> None:
        raise KeyboardInterrupt

    @app.command()
    def abort() -> None:
        raise typer.Abort

    app.add_typer(consent_app(telemetry), name="telemetry")
    return instrument_typer(app, telemetry, options=["--verbose"])


TYPER_CASES = [
    (["transcript", "get", "x", "--verbose"], "assembly transcript get", 0, "success", None),
    (["fail"], "assembly fail", 3, "error", "_OTHER"),
    (["fail", "--code", "0"], "assembly fail", 0, "success", None),
    (["crash"], "assembly crash", 1, "internal_error", "ValueError"),
    (["interrupt"], "assembly interrupt", 130, "interrupted", "KeyboardInterrupt"),
    (["abort"], "assembly abort", 1, "interrupted", None),
    (["fail", "--code", "x"], "assembly fail", 2, "usage_error", None),
]


@pytest.mark.parametrize(("args", "name", "code", "outcome", "error_type"), TYPER_CASES)
def test_typer_exit_paths(
    cli_telemetry: CapturedSpans,
    home: Path,
    args: list[str],
    name: str,
    code: int,
    outcome: str,
    error_type: str | None,
) -> None:
    """Each typer exit path gives the expected span name, exit code, outcome and error type."""
    telemetry = Telemetry("assembly", home=home)
    result = TyperRunner().invoke(make_typer_app(telemetry), args)
    assert result.exit_code == code
    [span] = cli_telemetry.commands
    assert span.name == name
    assert span.attributes["process.exit.code"] == code
    assert span.attributes["cli_telemetry.outcome"] == outcome
    if error_type is not None:
        assert span.attributes["error.type"] == error_type
    elif code:
        assert "error.type" in span.attributes
    if "--verbose" in args:
        assert span.attributes["cli_telemetry.options"] == ["--verbose"]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tasks")
    sub = parser.add_subparsers(required=True)
    remote = sub.add_parser("remote").add_subparsers(required=True)
    add = remote.add_parser("add", aliases=["a"])
    add.add_argument("url")
    add.set_defaults(func=lambda args: 0)
    fail = sub.add_parser("fail")
    fail.set_defaults(func=lambda args: 5)
    boom = sub.add_parser("boom")

    def explode(args: argparse.Namespace) -> int:
        raise OSError("secret path /home/me")

    boom.set_defaults(func=explode)
    return parser


@pytest.mark.parametrize(
    ("argv", "name", "code", "outcome"),
    [
        (["remote", "add", "https://secret.example"], "tasks remote add", 0, "success"),
        (["remote", "a", "u"], "tasks remote add", 0, "success"),
        (["fail"], "tasks fail", 5, "error"),
        (["boom"], "tasks boom", 1, "internal_error"),
        (["nosuch"], "tasks", 2, "usage_error"),
    ],
)
def test_argparse_run(
    cli_telemetry: CapturedSpans, home: Path, argv: list[str], name: str, code: int, outcome: str
) -> None:
    """The argparse integration names the span after the subcommand path (aliases resolved) with its
    exit code and outcome, and records no argument value."""
    telemetry = Telemetry("tasks", home=home)
    try:
        result = argparse_integration.run(telemetry, make_parser(), argv)
    except SystemExit as exc:
        result = int(exc.code or 0)
    except OSError:
        result = 1
    assert result == code
    [span] = cli_telemetry.commands
    assert span.name == name
    assert span.attributes["process.exit.code"] == code
    assert span.attributes["cli_telemetry.outcome"] == outcome
    assert "secret" not in repr(span.attributes)


def test_child_env_carries_the_command_span(cli_telemetry: CapturedSpans, home: Path) -> None:
    """child_env() inside a command names the command span as TRACEPARENT."""
    telemetry = Telemetry("assembly", home=home)
    with telemetry.command("run"):
        env = telemetry.child_env({"KEEP": "1", "TRACESTATE": "stale=1"})
    [span] = cli_telemetry.commands
    assert env["KEEP"] == "1"
    assert env["TRACEPARENT"].startswith(f"00-{span.trace_id}-{span.span_id}-")
    assert "TRACESTATE" not in env
    outside = telemetry.child_env({"TRACEPARENT": "inherited"})
    assert outside == {"TRACEPARENT": "inherited"}


def test_disabled_with_the_spy(
    telemetry_spy: TelemetrySpy, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test kit's spy proves a disabled run starts nothing and connects nowhere."""
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    telemetry = Telemetry("assembly", home=home)
    with telemetry.command("run"):
        pass
    telemetry_spy.assert_nothing_happened()
    assert not home.exists()
    monkeypatch.delenv("DO_NOT_TRACK")
    with telemetry.command("run"):
        pass
    assert telemetry_spy.exporters_started  # the spy does see a real start attempt


def test_ci_policy(home: Path, cli_telemetry: CapturedSpans) -> None:
    """skip: nothing recorded in CI; local: the local file sink only."""
    env = {"GITHUB_ACTIONS": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    skipped = Telemetry("assembly", home=home, env=env, ci_policy="skip")
    assert skipped.consent().rule == "ci_policy"
    with skipped.command("x"):
        pass
    assert cli_telemetry.spans == []
    local = Telemetry("assembly", home=home, env=env, ci_policy="local")
    assert [d.kind for d in local.destinations()] == ["file"]
    outside_ci = Telemetry("assembly", home=home, env={}, ci_policy="skip")
    assert outside_ci.consent().enabled
    with pytest.raises(ValueError, match="ci_policy"):
        Telemetry("assembly", ci_policy="sometimes")


class FakeTTY:
    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.text = ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        return None


def test_first_run_notice(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shown once on a terminal, not again, not when stderr is not a TTY, again when the
    notice version changes."""
    spawn = lambda *a, **k: None  # noqa: E731 - no exporter for this test

    def run(tty: bool, version: int = 1, show: str = "auto") -> str:
        err = FakeTTY(tty)
        monkeypatch.setattr(sys, "stderr", err)
        telemetry = Telemetry(
            "assembly", home=home, env={}, spawn=spawn, notice_version=version, show_notice=show
        )
        with telemetry.command("x"):
            pass
        return err.text

    assert run(tty=False) == ""
    first = run(tty=True)
    assert "DO_NOT_TRACK=1" in first
    # No integration mounted the consent commands: the notice names the module CLI.
    assert "python -m otel_cli_telemetry --service assembly disable" in first
    assert "assembly telemetry" not in first
    assert run(tty=True) == ""
    assert run(tty=True, version=2) == first
    assert run(tty=True, version=2) == ""
    assert run(tty=False, version=3, show="always") == first
    assert run(tty=True, version=4, show="never") == ""


def test_typer_consent_app_is_built_from_the_admin_table(home: Path) -> None:
    """Each command of the admin table, with its help and its options as typer shows them
    (no ``--no-json`` twin, the default shown); the options reach the action, and a flush
    that leaves traces waiting exits 1."""
    telemetry = Telemetry(
        "assembly",
        home=home,
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
        spawn=lambda *a, **k: None,
    )
    for name in ("a", "b", "c"):
        with telemetry.command(name):
            pass
    app = make_typer_app(telemetry)
    runner = TyperRunner()
    wide = {"COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}
    listing = runner.invoke(app, ["telemetry", "--help"], env=wide)
    assert listing.exit_code == 0
    for command in cli.COMMANDS:
        assert command.help in listing.output
        page = runner.invoke(app, ["telemetry", command.name, "--help"], env=wide)
        assert page.exit_code == 0
        assert command.help in page.output
        for option in command.options:
            assert all(flag in page.output for flag in option.flags)
            assert option.help in page.output
    show_page = runner.invoke(app, ["telemetry", "show", "--help"], env=wide).output
    assert "[default: 20]" in show_page
    assert "--no-json" not in show_page
    as_json = runner.invoke(app, ["telemetry", "show", "--json", "--limit", "2"])
    assert as_json.exit_code == 0
    assert [json.loads(line)["resourceSpans"] != [] for line in as_json.output.splitlines()] == [
        True,
        True,
    ]
    terse = runner.invoke(app, ["telemetry", "show"]).output
    verbose = runner.invoke(app, ["telemetry", "show", "-v"]).output
    assert len(verbose.splitlines()) > len(terse.splitlines())
    flushed = runner.invoke(app, ["telemetry", "flush", "--timeout", "0.5"])
    assert flushed.exit_code == 1
    assert "still waiting 3" in flushed.output
