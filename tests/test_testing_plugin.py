"""The test kit, used from a throwaway CLI project exactly as an author would use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_cli_telemetry.testing import capture_spans


def test_an_author_can_use_the_plugin(pytester: pytest.Pytester) -> None:
    """The fixtures are found through the pytest11 entry point; no conftest needed."""
    pytester.makepyfile(
        mycli="""
        import click
        from otel_cli_telemetry import Telemetry
        from otel_cli_telemetry.integrations.click import instrument

        telemetry = Telemetry("mycli", version="0.1")

        @click.group()
        def cli():
            pass

        @cli.command()
        @click.argument("name")
        def hello(name):
            click.echo(f"hi {name}")

        instrument(cli, telemetry)
        """,
        test_mycli="""
        from click.testing import CliRunner
        from mycli import cli

        def test_hello_is_recorded(cli_telemetry):
            result = CliRunner().invoke(cli, ["hello", "private-name"])
            assert result.exit_code == 0
            [span] = cli_telemetry.commands
            assert span.name == "mycli hello"
            assert span.attributes["process.exit.code"] == 0
            assert "private-name" not in repr(span.attributes)

        def test_nothing_when_disabled(telemetry_spy, cli_telemetry, monkeypatch):
            monkeypatch.setenv("DO_NOT_TRACK", "1")
            CliRunner().invoke(cli, ["hello", "x"])
            telemetry_spy.assert_nothing_happened()
            assert cli_telemetry.spans == []
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_capture_spans_works_without_pytest_fixtures(home: object) -> None:
    """``capture_spans`` as a plain context manager captures the commands inside its block only."""
    from otel_cli_telemetry import Telemetry

    telemetry = Telemetry("assembly", env={}, home=home)  # type: ignore[arg-type]
    with capture_spans() as captured, telemetry.command("x"):
        pass
    assert [s.name for s in captured.commands] == ["assembly x"]
    with telemetry.command("y"):  # outside the block: not captured
        pass
    assert len(captured.commands) == 1


_ONE_CLI = """
import click
from otel_cli_telemetry import Telemetry
from otel_cli_telemetry.integrations.click import instrument

# An author's real set-up: no home=, no spawn=; the library would use the platform dirs.
telemetry = Telemetry("mycli", version="0.1")

@click.group()
def cli():
    pass

@cli.command()
def hello():
    click.echo("hi")

instrument(cli, telemetry)
"""


def test_an_authors_suite_is_isolated_by_default(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A test that uses none of our fixtures writes nothing to the user's directories and
    starts no exporter; ``cli_telemetry`` still shows what was captured; a test marked
    ``telemetry_delivery`` records for real."""
    real = tmp_path / "real-home"
    pytester.makepyfile(
        mycli=_ONE_CLI,
        test_mycli="""
        import os
        import pytest
        from click.testing import CliRunner
        from otel_cli_telemetry._process import launcher
        from mycli import cli, telemetry

        def test_plain():
            assert CliRunner().invoke(cli, ["hello"]).exit_code == 0
            assert "otel-cli-telemetry" in telemetry.paths.home  # the session temp dir

        def test_captured_stays_readable(cli_telemetry):
            CliRunner().invoke(cli, ["hello"])
            assert [s.name for s in cli_telemetry.commands] == ["mycli hello"]

        @pytest.mark.telemetry_delivery
        def test_real_delivery(monkeypatch, tmp_path):
            started = []
            monkeypatch.setattr(launcher, "start", lambda *a, **k: started.append(a))
            monkeypatch.setenv("MYCLI_TELEMETRY_HOME", str(tmp_path / "h"))
            from otel_cli_telemetry import Telemetry
            from otel_cli_telemetry.integrations.click import instrument
            import mycli
            fresh = Telemetry("mycli")
            with fresh.command("x"):
                pass
            assert started, "a marked test records and would start the exporter"
            assert os.listdir(tmp_path / "h" / "spool")
        """,
    )
    env_home = {"XDG_STATE_HOME": str(real / "state"), "XDG_CONFIG_HOME": str(real / "config")}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env_home.items():
            patch.setenv(key, value)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    assert not real.exists(), sorted(str(p) for p in real.rglob("*"))
    assert not (pytester.path / ".local").exists()


def test_testing_imports_without_pytest(tmp_path: Path) -> None:
    """``otel_cli_telemetry.testing`` is usable where pytest is not installed."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "pytest.py").write_text("raise ImportError('no pytest here')\n")
    proc = subprocess.run(
        [sys.executable, "-c", "import otel_cli_telemetry.testing as t; print(t.capture_spans)"],
        env={"PYTHONPATH": f"{blocker}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "capture_spans" in proc.stdout
