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


def default_text(app_name: str, env_prefix: str) -> str:
    return (
        f"{app_name} collects anonymous usage data: the command name, how it ended, "
        "its duration, OS, runtime and CI; never arguments, paths or names.\n"
        f"See what is sent: {app_name} telemetry show. Turn it off: "
        f"{env_prefix}_TELEMETRY_DISABLED=1 or DO_NOT_TRACK=1 "
        f"or {app_name} telemetry disable."
    )


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
        state.write_config(config_file, values)
    except OSError:
        return False
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
    return True
