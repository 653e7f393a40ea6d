"""The click, typer and argparse integrations cost only what a run uses: in a real process,
the modules an instrumented app loads, compared with the same app run inside a plain
``telemetry.command()`` (the package's light entry, and the usage path when on), whatever
that path loads today.

- Off, an integration adds its own module (and the package's) and nothing else: not the
  consent commands, not even their table.
- On, it adds the code that follows the run down the command tree, and still no consent
  command code.
- The consent commands' table loads when one of them runs (their ``--help`` included), and
  their code (``verbs``) only when one really runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.test_path_imports import POPEN_MODULES, modules

OURS = "otel_cli_telemetry"
FRAMEWORKS = ["click", "typer", "argparse"]

# The same small app in each framework; ``P_WAY=command``: not instrumented, run inside
# ``telemetry.command("run")``. ``P_ARGS``: the command line. Prints the modules at the end.
_PROBE = """
import os, sys
FW, WAY = os.environ["P_FW"], os.environ.get("P_WAY", "integration")
ARGS = os.environ.get("P_ARGS", "run").split()

if FW == "click":
    import click
    @click.group()
    def app(): pass
    @app.command()
    def run(): print("ran")
elif FW == "typer":
    import typer
    app = typer.Typer(add_completion=False)
    @app.callback()
    def main_options(): pass
    @app.command()
    def run(): print("ran")
else:
    import argparse
    parser = argparse.ArgumentParser(prog="imp")
    sub = parser.add_subparsers(required=True)
    sub.add_parser("run").set_defaults(func=lambda args: print("ran") or 0)
    def app():
        args = parser.parse_args(ARGS)
        return args.func(args)

from otel_cli_telemetry import Telemetry
telemetry = Telemetry("imp", version="1", env_prefix="IMP")
if WAY == "integration" and FW == "click":
    from otel_cli_telemetry.integrations.click import consent_group, instrument
    app.add_command(consent_group(telemetry))
    instrument(app, telemetry)
elif WAY == "integration" and FW == "typer":
    from otel_cli_telemetry.integrations.typer import consent_app, instrument
    app.add_typer(consent_app(telemetry), name="telemetry")
    instrument(app, telemetry)
elif WAY == "integration":
    from otel_cli_telemetry.integrations.argparse import instrument, track
    instrument(parser, telemetry)
    app = track(telemetry)(app)

def command():
    try:
        app() if FW == "argparse" else app(ARGS)
    except SystemExit as exc:
        if exc.code:
            raise

if WAY == "command":
    with telemetry.command("run"):
        command()
else:
    command()
print("MODULES", ",".join(sorted(sys.modules)))
"""

#: What an integration's own import adds: its module and the package.
OWN = {fw: {f"{OURS}.integrations", f"{OURS}.integrations.{fw}"} for fw in FRAMEWORKS}
#: What a recorded run adds: for click and typer, the code that wraps the command tree.
RECORDING = {
    "click": {f"{OURS}.integrations._clicktree"},
    "typer": {f"{OURS}.integrations._clicktree"},
    "argparse": set(),
}
TABLE = f"{OURS}._admin.commands"
#: The consent commands' code: what runs one, what it prints, what it reads.
CONSENT_CODE = (
    f"{OURS}._admin.verbs", f"{OURS}._admin.cli", f"{OURS}._admin.show",
    f"{OURS}._admin.status", f"{OURS}._admin.actions", f"{OURS}._disk.otlp_read",
)  # fmt: skip


def loaded(fw: str, tmp_path: Path, label: str, *, off: bool, **extra: str) -> set[str]:
    """The modules the probe app loaded, run as ``extra`` says (two runs, the second kept)."""
    return modules(
        fw, "", bare=False, off=off, home=tmp_path / label, probe=_PROBE, P_FW=fw, **extra
    )


def _framework(fw: str) -> None:
    if fw in ("click", "typer"):
        pytest.importorskip(fw)


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_off_an_integration_adds_only_its_own_module(fw: str, tmp_path: Path) -> None:
    """Opted out, an instrumented app loads what the same app inside a plain
    ``telemetry.command()`` loads (the light entry, computed here), plus the integration's
    module; no consent command, not even their table, and no wrapper of the command tree."""
    _framework(fw)
    plain = loaded(fw, tmp_path, "plain", off=True, P_WAY="command")
    instrumented = loaded(fw, tmp_path, "instrumented", off=True)
    assert instrumented - plain <= OWN[fw], sorted(instrumented - plain - OWN[fw])
    assert OWN[fw] <= instrumented  # the integration did run
    ours = {m for m in plain if m.startswith(OURS)}
    assert ours <= instrumented, sorted(ours - instrumented)  # through the light entry


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_on_an_integration_adds_its_run_code_and_no_consent_command(
    fw: str, tmp_path: Path
) -> None:
    """On, the usage path of an instrumented app is the plain ``telemetry.command()`` path,
    plus the integration's module and the code that follows the command tree; the consent
    commands' table and code stay unloaded."""
    _framework(fw)
    plain = loaded(fw, tmp_path, "plain", off=False, P_WAY="command")
    instrumented = loaded(fw, tmp_path, "instrumented", off=False)
    allowed = OWN[fw] | RECORDING[fw]
    if sys.version_info < (3, 11):
        allowed |= POPEN_MODULES  # either run may start the exporter through Popen there
    assert instrumented - plain <= allowed, sorted(instrumented - plain - allowed)
    assert TABLE not in instrumented
    assert not [m for m in instrumented if m.startswith(CONSENT_CODE)]


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_the_consent_commands_load_their_code_only_when_one_runs(fw: str, tmp_path: Path) -> None:
    """``app telemetry --help`` loads the table and none of the commands' code; ``app
    telemetry status`` loads the code that runs it; an ordinary run loads neither."""
    _framework(fw)
    ordinary = loaded(fw, tmp_path, "run", off=True)
    helped = loaded(fw, tmp_path, "help", off=True, P_ARGS="telemetry --help")
    status = loaded(fw, tmp_path, "status", off=True, P_ARGS="telemetry status")
    assert TABLE not in ordinary
    assert not [m for m in ordinary if m.startswith(CONSENT_CODE)]
    assert TABLE in helped
    assert not [m for m in helped if m.startswith(CONSENT_CODE)]
    assert {TABLE, f"{OURS}._admin.verbs"} <= status


def test_the_argparse_consent_parser_is_made_when_first_looked_at() -> None:
    """Before any run, a tool reading the ``telemetry`` parser gets a parser of the app's
    own parser class, with its help line and its usage, as ``add_parser`` would have made
    it; the root's help lists it without making it."""
    import argparse

    from otel_cli_telemetry import Telemetry
    from otel_cli_telemetry.integrations.argparse import instrument

    class AppParser(argparse.ArgumentParser):
        pass

    parser = AppParser(prog="imp")
    parser.add_subparsers(required=True).add_parser("run")
    instrument(parser, Telemetry("imp", env={"DO_NOT_TRACK": "1"}))
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert "Control the usage telemetry of imp." in parser.format_help()
    consent = action.choices["telemetry"]
    assert "_otel_cli_telemetry_deferred" in vars(consent)  # not made by the root's help
    assert isinstance(consent, AppParser)
    assert consent.prog == "imp telemetry"
    assert type(consent) is AppParser  # made, once looked at
    assert consent.format_usage() == "usage: imp telemetry [-h] COMMAND ...\n"
