"""Decide whether this run may record anything, and say which rule decided.

Runs before any OpenTelemetry import, file write or process start: when the answer is
"no", nothing else happens at all. The environment is read first (``from_env``); only when
no variable decides is the config file located and read (``from_config``), so an opt-out
imports nothing beyond the package's light entry (hence string annotations, no
``from __future__``, and ``state`` imported where the file is read).
"""

from otel_cli_telemetry._process import config
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from otel_cli_telemetry._disk.fs import StrPath


class Decision(Record):
    """The outcome of consent resolution. ``rule`` is stable and machine-readable."""

    __slots__ = ("enabled", "rule", "detail")

    def __init__(self, enabled: bool, rule: str, detail: str) -> None:
        self.enabled = enabled
        self.rule = rule
        self.detail = detail

    def __bool__(self) -> bool:
        return self.enabled


def resolve(
    env: "Mapping[str, str]",
    *,
    env_prefix: str,
    config_file: "StrPath | None",
    explicit: bool | None = None,
) -> Decision:
    """Apply the rules in order; the first that speaks decides.

    1. ``explicit`` (the author's ``enabled=`` argument)
    2. ``{PREFIX}_TELEMETRY_DISABLED`` set to a true value
    3. ``DO_NOT_TRACK``, ``OTEL_SDK_DISABLED=true``, ``OTEL_TRACES_EXPORTER=none``
    4. ``{PREFIX}_TELEMETRY_DISABLED`` set to a false value (beats the persisted choice)
    5. the persisted choice in ``config.toml``
    6. the default: on (opt-out model)
    """
    decision = from_env(env, env_prefix=env_prefix, explicit=explicit)
    if decision is not None:
        return decision
    return from_config(config_file)


def from_env(
    env: "Mapping[str, str]", *, env_prefix: str, explicit: bool | None = None
) -> Decision | None:
    """Rules 1 to 4 of ``resolve``: None when neither the argument nor the environment speaks."""
    if explicit is not None:
        return Decision(explicit, "argument", f"enabled={explicit} passed by the application")

    app_switch = config.APP_DISABLED.format(prefix=env_prefix)
    app_value = config.flag(env, app_switch)
    if app_value:
        return Decision(False, "env", f"{app_switch} is set")
    if config.flag(env, config.DO_NOT_TRACK):
        return Decision(False, "env", f"{config.DO_NOT_TRACK} is set")
    sdk_disabled = config.get(env, config.OTEL_SDK_DISABLED)
    if sdk_disabled is not None and sdk_disabled.lower() == "true":
        return Decision(False, "env", f"{config.OTEL_SDK_DISABLED}=true")
    exporters = config.get(env, config.OTEL_TRACES_EXPORTER)
    if exporters is not None and {e.strip().lower() for e in exporters.split(",")} == {"none"}:
        return Decision(False, "env", f"{config.OTEL_TRACES_EXPORTER}=none")
    if app_value is False:
        return Decision(True, "env", f"{app_switch} is set to a false value")
    return None


def from_config(config_file: "StrPath | None") -> Decision:
    """Rules 5 and 6 of ``resolve``: the persisted choice, else on."""
    if config_file is not None:
        from otel_cli_telemetry._disk import state

        persisted = state.read_config(config_file).get("enabled")
        if isinstance(persisted, bool):
            verb = "enabled" if persisted else "disabled"
            return Decision(persisted, "config", f"{verb} in {config_file}")
    return Decision(True, "default", "on by default; opt out with DO_NOT_TRACK=1")


def persist(config_file: "StrPath", enabled: bool) -> None:
    """Record the user's choice (``enable`` / ``disable`` commands)."""
    from otel_cli_telemetry._disk import state

    values = state.read_config(config_file)
    values["enabled"] = enabled
    state.write_config(config_file, values)
