"""One-command apps (click ``@click.command()``, a typer app with one command, argparse with
no subparsers): instrumenting works, the app stays one command, and the notice names a
consent surface that exists (the module CLI)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer
from click.testing import CliRunner
from typer.testing import CliRunner as TyperRunner

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._admin import cli as admin
from otel_cli_telemetry.testing import CapturedSpans
from tests.conftest import cli_env

MODULE_CLI = f"{shlex.quote(sys.executable)} -m otel_cli_telemetry --service"


def test_click_one_command(home: Path, cli_telemetry: CapturedSpans) -> None:
    """A plain ``@click.command()`` is one span named after the app, success and usage
    error alike; the notice names the module CLI."""
    from otel_cli_telemetry.integrations.click import instrument

    telemetry = Telemetry("one", home=home, env={})

    @click.command()
    @click.argument("path")
    def one(path: str) -> None:
        click.echo(f"{len(path)}")

    instrument(one, telemetry)
    ok = CliRunner().invoke(one, ["file.txt"])
    bad = CliRunner().invoke(one, [])
    assert (ok.exit_code, ok.output, bad.exit_code) == (0, "8\n", 2)
    assert [(s.name, s.attributes["process.exit.code"]) for s in cli_telemetry.commands] == [
        ("one", 0),
        ("one", 2),
    ]
    assert f"{MODULE_CLI} one disable" in telemetry.notice_text()


def test_click_group_notice_names_the_mounted_group(home: Path) -> None:
    """The notice names the consent group under the name it was mounted with."""
    from otel_cli_telemetry.integrations.click import consent_group

    telemetry = Telemetry("grp", home=home, env={})

    @click.group()
    def cli() -> None:
        pass

    cli.add_command(consent_group(telemetry, name="privacy"))
    assert "grp privacy disable" in telemetry.notice_text()


def make_one_typer(telemetry: Telemetry, *, with_consent: bool) -> typer.Typer:
    """The README's one-command typer app."""
    from otel_cli_telemetry.integrations.typer import consent_app, instrument

    app = typer.Typer()

    @app.command()
    def main(path: str) -> None:
        print(f"read {len(path)}")

    if with_consent:
        app.add_typer(consent_app(telemetry), name="telemetry")
    instrument(app, telemetry)
    return app


@pytest.mark.parametrize("with_consent", [False, True], ids=["plain", "consent-app-added"])
def test_typer_one_command(home: Path, cli_telemetry: CapturedSpans, with_consent: bool) -> None:
    """``python one.py file.txt`` keeps working even after ``add_typer(consent_app(...))``
    (which used to turn it into a group: "No such command 'file.txt'")."""
    telemetry = Telemetry("one", home=home, env={})
    app = make_one_typer(telemetry, with_consent=with_consent)
    result = TyperRunner().invoke(app, ["file.txt"])
    assert result.exit_code == 0, result.output
    assert result.output == "read 8\n"
    usage = TyperRunner().invoke(app, [])
    assert usage.exit_code == 2
    assert [(s.name, s.attributes["process.exit.code"]) for s in cli_telemetry.commands] == [
        ("one", 0),
        ("one", 2),
    ]
    assert telemetry.consent_command is None
    assert f"{MODULE_CLI} one disable" in telemetry.notice_text()


def test_typer_group_keeps_its_consent_app(home: Path) -> None:
    """A typer app with several commands keeps ``telemetry`` and the notice names it."""
    from otel_cli_telemetry.integrations.typer import consent_app, instrument

    telemetry = Telemetry("grp", home=home, env={})
    app = typer.Typer()

    @app.command()
    def a() -> None:
        pass

    @app.command()
    def b() -> None:
        pass

    app.add_typer(consent_app(telemetry), name="telemetry")
    instrument(app, telemetry)
    result = TyperRunner().invoke(app, ["telemetry", "status"])
    assert result.exit_code == 0, result.output
    assert "grp telemetry disable" in telemetry.notice_text()


def test_argparse_one_command(home: Path, cli_telemetry: CapturedSpans) -> None:
    """A single-command argparse tool gets a span named after the tool and a notice naming the
    module CLI's disable command."""
    import argparse

    from otel_cli_telemetry.integrations.argparse import instrument, track

    telemetry = Telemetry("one", home=home, env={})
    parser = instrument(argparse.ArgumentParser(prog="one"), telemetry)
    parser.add_argument("path")

    @track(telemetry)
    def main(argv: list[str]) -> int:
        parser.parse_args(argv)
        return 0

    assert main(["x"]) == 0
    assert [s.name for s in cli_telemetry.commands] == ["one"]
    assert f"{MODULE_CLI} one disable" in telemetry.notice_text()


def test_frozen_notice_names_only_the_env_switches(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frozen binary has no ``python -m``: the notice then names only the variables."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    text = Telemetry("one", home=home, env={}).notice_text()
    assert "python -m" not in text
    assert "ONE_TELEMETRY_DISABLED=1 or DO_NOT_TRACK=1" in text


def test_notice_names_a_custom_prefix(home: Path) -> None:
    """The notice's disable command carries a custom ``--env-prefix``."""
    text = Telemetry("one", env_prefix="UNO", home=home, env={}).notice_text()
    assert f"{MODULE_CLI} one --env-prefix UNO disable" in text


@pytest.mark.parametrize("action", [c.name for c in admin.COMMANDS if c.name != "flush"])
def test_module_cli_the_notice_names_runs(home: Path, action: str) -> None:
    """The command the notice names for a one-command app exists and works, for every
    entry of the admin table (flush aside: it would start delivering)."""
    env = cli_env(home, ONE_TELEMETRY_HOME=str(home))
    proc = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "one", action],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    if action == "disable":
        assert not Telemetry("one", env=env).consent().enabled


@pytest.mark.parametrize(
    "script", ["one_command_click.py", "one_command_typer.py", "one_command_argparse.py"]
)
def test_one_command_examples(home: Path, tmp_path: Path, script: str) -> None:
    """The README's one-command examples run as one-command apps, with the same output
    with telemetry on (debug mode: nothing sent) as off."""
    from tests.conftest import run_example

    target = tmp_path / "three.txt"
    target.write_text("a\nb\nc\n")
    off = run_example(script, str(target), env=cli_env(home, DO_NOT_TRACK="1"))
    assert (off.returncode, off.stdout, off.stderr) == (0, "3\n", "")
    on = run_example(script, str(target), env=cli_env(home, WC_TELEMETRY_DEBUG="1"))
    assert (on.returncode, on.stdout) == (0, "3\n")
    assert '"name": "wc"' in on.stderr or '"name":"wc"' in on.stderr
