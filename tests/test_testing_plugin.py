"""The test kit, used from a throwaway CLI project exactly as an author would use it."""

from __future__ import annotations

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
    from otel_cli_telemetry import Telemetry

    telemetry = Telemetry("assembly", env={}, home=home)  # type: ignore[arg-type]
    with capture_spans() as captured, telemetry.command("x"):
        pass
    assert [s.name for s in captured.commands] == ["assembly x"]
    with telemetry.command("y"):  # outside the block: not captured
        pass
    assert len(captured.commands) == 1
