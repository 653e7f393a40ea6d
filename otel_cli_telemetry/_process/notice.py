"""The first-run notice: tell the user, once per notice version, that telemetry is on.

Printed on stderr only (never in the middle of machine-readable stdout), and by default only
when stderr is a terminal. The version shown is remembered in the config file; if it cannot
be remembered, the notice stays silent rather than repeat itself on every run.
"""

from __future__ import annotations

import sys

from otel_cli_telemetry._disk import state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._disk.fs import StrPath

VERSION_KEY = "notice_version_shown"


#: The module CLI every installed app can be controlled with (also the console script
#: ``otel-cli-telemetry``); a frozen binary has no ``python -m`` to offer.
MODULE_CLI = "python -m otel_cli_telemetry"


def shell_quote(word: str) -> str:
    """``word`` as one shell word: POSIX quoting, or double quotes on Windows."""
    platform: str = sys.platform  # not narrowed: both branches type-check everywhere
    if platform == "win32":
        return f'"{word}"' if not word or any(c in word for c in ' \t&|<>^()"') else word
    import shlex

    return shlex.quote(word)


def module_cli_command(app_name: str, env_prefix: str) -> str | None:
    """The module CLI invocation that acts on this app's telemetry, or None when frozen.

    It names the app's own interpreter (``sys.executable``, quoted for the shell): the one
    where this package is installed, whatever ``python`` on PATH is (a pipx or venv install
    has its own); neither the console script nor ``python`` need be on PATH."""
    if getattr(sys, "frozen", False):
        return None
    from otel_cli_telemetry._process.config import env_prefix_for

    python = shell_quote(sys.executable) if sys.executable else "python"
    command = f"{python} -m otel_cli_telemetry --service {shell_quote(app_name)}"
    if env_prefix != env_prefix_for(app_name):
        command += f" --env-prefix {shell_quote(env_prefix)}"
    return command


def default_text(app_name: str, env_prefix: str, consent_command: str | None = None) -> str:
    """The default notice. It names only commands that exist: ``consent_command`` when an
    integration mounted the consent commands, else the module CLI (none when frozen)."""
    command = consent_command or module_cli_command(app_name, env_prefix)
    off = f"{env_prefix}_TELEMETRY_DISABLED=1 or DO_NOT_TRACK=1"
    lead = (
        f"{app_name} collects anonymous usage data: the command name, how it ended, "
        "its duration, OS, runtime and CI; never arguments, paths or names.\n"
    )
    if command is None:
        return lead + f"Turn it off: {off}."
    return lead + f"See what is sent: {command} show. Turn it off: {off} or {command} disable."


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def show_once(text: str, config_file: StrPath, *, version: int, only_on_terminal: bool) -> bool:
    """Print ``text`` unless this version was shown already; True if printed."""
    if only_on_terminal and not _stderr_is_terminal():
        return False
    values = state.read_config(config_file)
    shown = values.get(VERSION_KEY)
    if isinstance(shown, int) and not isinstance(shown, bool) and shown >= version:
        return False
    values[VERSION_KEY] = version
    try:
        from otel_cli_telemetry._disk import toml

        toml.write(config_file, values)
    except OSError:
        return False
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
    return True
