"""Disclosure from code: ``telemetry disclosure`` and the README list exactly the fields the
code sends, per destination, generated from the allow-lists the code itself uses; every
admin command is reachable from click, typer, argparse (``run_parsed``) and the module CLI."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from click.testing import CliRunner

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._admin import cli, disclosure
from otel_cli_telemetry._disk.otlp_read import attributes as decode
from otel_cli_telemetry._exporter.sinks import datadog, posthog
from otel_cli_telemetry._process import attributes, fields
from otel_cli_telemetry.integrations.click import consent_group
from otel_cli_telemetry.integrations.typer import consent_app
from otel_cli_telemetry.testing import capture_spans
from tests.conftest import ROOT, cli_env

README = ROOT / "README.md"


def test_readme_lists_exactly_the_generated_fields() -> None:
    """The README's "Every field that is sent" section, between its markers, is the
    generated disclosure, word for word."""
    text = README.read_text(encoding="utf-8")
    assert disclosure.START_MARKER in text, (
        f"README.md lacks the {disclosure.START_MARKER} / {disclosure.END_MARKER} section; "
        "paste `python -m otel_cli_telemetry --service any disclosure` between them"
    )
    assert disclosure.readme_section(text) == disclosure.render()


def recorded(tmp_path: Path, **kwargs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A failing and a succeeding command with a child span and an author attribute,
    captured as sent: (one OTLP request, every captured request)."""
    home = tmp_path / "home"
    env = {"GITHUB_ACTIONS": "true"}
    linking = Telemetry("demo", version="1.0", home=home, env=env, identity_linking=True)
    linking.link_identity("account-1")
    telemetry = Telemetry(
        "demo", version="1.0", home=home, env=env, identity_linking=True, **kwargs
    )
    with capture_spans() as captured:
        with (
            telemetry.command("ok", attributes={"model": "small"}),
            telemetry.tracer.start_as_current_span("inner"),
        ):
            pass
        with pytest.raises(ValueError, match="secret"), telemetry.command("bad"):
            raise ValueError("secret message")
    return captured.requests[0], captured.requests


def test_the_code_sends_only_listed_span_and_resource_fields(tmp_path: Path) -> None:
    """Every attribute of a real command span and resource is in the allow-list (plus the
    author's own), and the list names nothing the code never sends."""
    _, requests = recorded(tmp_path)
    span_names = {name for name, _ in fields.SPAN_FIELDS}
    resource_names = {name for name, _ in fields.RESOURCE_FIELDS}
    seen_span: set[str] = set()
    seen_resource: set[str] = set()
    for request in requests:
        for resource_spans in request["resourceSpans"]:
            seen_resource |= set(decode(resource_spans["resource"]["attributes"]))
            for scope in resource_spans["scopeSpans"]:
                for span in scope["spans"]:
                    seen_span |= set(decode(span.get("attributes")))
    assert seen_span - span_names == {"model"}
    assert seen_resource <= resource_names
    assert resource_names - seen_resource == set()  # all of them, CI and linking on
    core = {attributes.EXIT_CODE, attributes.OUTCOME, attributes.ERROR_TYPE, attributes.PID}
    assert core <= seen_span


def test_datadog_fields_are_the_listed_ones(tmp_path: Path) -> None:
    """A Datadog log holds the listed fields plus the span's and resource's attributes;
    its tags are the listed ones."""
    request, _ = recorded(tmp_path)
    [log] = datadog.to_logs(request)
    copied = set()
    for resource_spans in request["resourceSpans"]:
        copied |= set(decode(resource_spans["resource"]["attributes"]))
        for scope in resource_spans["scopeSpans"]:
            for span in scope["spans"]:
                copied |= set(decode(span.get("attributes")))
    flat = {k for k in log if k != "dd"} | {f"dd.{k}" for k in log["dd"]}
    assert flat - copied == {name for name, _ in datadog.LOG_FIELDS}
    assert [t.split(":")[0] for t in log["ddtags"].split(",")] == [t for t, _ in datadog.DDTAGS]


def test_posthog_properties_are_the_listed_ones(tmp_path: Path) -> None:
    """Every property of the PostHog events is listed, and every listed one can occur."""
    _, requests = recorded(tmp_path)
    events = [e for r in requests for e in posthog.to_events(r)]
    seen = {key for event in events for key in event["properties"]}
    assert {tuple(sorted(e)) for e in events} == {tuple(sorted(posthog.EVENT_FIELDS))}
    listed = {name for name, _ in posthog.PROPERTIES}
    anonymous = Telemetry("demo", home=tmp_path / "anon", env={})
    with capture_spans() as captured, anonymous.command("x"):
        pass
    seen |= {k for r in captured.requests for e in posthog.to_events(r) for k in e["properties"]}
    # A sampled installation's span carries its sample rate (only then: rate < 1).
    sampled = captured.requests[0]
    span = sampled["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"].append({"key": attributes.SAMPLE_RATE, "value": {"doubleValue": 0.5}})
    seen |= set(posthog.to_events(sampled)[0]["properties"])
    assert seen == listed
    alias = posthog.to_events(posthog.alias_request("anon-id", "account-1", 0))
    assert set(alias[0]["properties"]) == {name for name, _ in posthog.ALIAS_PROPERTIES}


def test_declared_attributes_are_disclosed(tmp_path: Path) -> None:
    """An author's declared attributes appear in the app's own disclosure."""
    telemetry = Telemetry(
        "demo", home=tmp_path, env={}, declared_attributes={"model": "the model size"}
    )
    text = telemetry.disclosure()
    assert "- `model`: the model size" in text
    assert disclosure.fields(telemetry.declared_attributes)["author"] == ["model"]
    assert Telemetry("d", env={}, declared_attributes=["lang"]).declared_attributes == {"lang": ""}
    with pytest.raises(ValueError, match="declared_attributes"):
        Telemetry("d", declared_attributes="lang")


NEW = ("local", "reset", "disclosure")


def test_every_admin_command_in_click_and_typer(tmp_path: Path) -> None:
    """The click group is built from the table; the typer app lists the same commands; both
    run the new ones with telemetry off."""
    telemetry = Telemetry("demo", home=tmp_path / "home", env={"DO_NOT_TRACK": "1"})
    names = [c.name for c in cli.COMMANDS]
    assert set(NEW) <= set(names)
    group = consent_group(telemetry)
    assert isinstance(group, click.Group)
    assert sorted(group.commands) == sorted(names)
    app = typer.Typer()
    app.add_typer(consent_app(telemetry), name="telemetry")

    @app.command()
    def other() -> None:
        pass

    typer_group: Any = typer.main.get_command(app)
    assert sorted(typer_group.commands["telemetry"].commands) == sorted(names)
    for name in NEW:
        result = CliRunner().invoke(group, [name])
        assert result.exit_code == 0, result.output
        result = CliRunner().invoke(typer_group, ["telemetry", name])
        assert result.exit_code == 0, result.output
    assert "`process.exit.code`" in CliRunner().invoke(group, ["disclosure"]).output


def test_new_commands_run_through_run_parsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the argparse integration calls: each new command, from a parsed namespace."""
    telemetry = Telemetry("demo", home=tmp_path / "home", env={})
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="action")
    for command in cli.COMMANDS:
        cli.add_arguments(sub.add_parser(command.name), command)
    for name in NEW:
        args = parser.parse_args([name])
        assert cli.run_parsed(cli.command_named(name), telemetry, args) == 0
    out = capsys.readouterr().out
    assert "local only" in out
    assert "Forgot this installation" in out
    assert disclosure.render(kinds=["file"]) in out  # no destination: the local file only


def test_module_cli_disclosure_is_the_generated_text(tmp_path: Path) -> None:
    """``python -m otel_cli_telemetry --service NAME disclosure --all`` prints ``render()``."""
    proc = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "demo", "disclosure", "--all"],
        env=cli_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == disclosure.render()
    buffer = io.StringIO()
    assert cli.do_disclosure(Telemetry("demo", env={}), buffer, every=True) == 0
    assert buffer.getvalue() == proc.stdout
