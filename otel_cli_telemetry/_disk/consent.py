"""Consent, decided by one function that both processes call: the command before it records
(``Telemetry.consent``), the exporter child before every attempt (``may_send``).

Three modes: ``on`` (record and send), ``local`` (record to the local file sink only, send
nothing) and ``off`` (nothing happens). Reads the environment first; only when no variable
opted out the machine policy (one failed ``lstat()`` when there is none) and the persisted
choice, so an opt-out imports nothing more (string annotations, lazy imports).
"""

import os

from otel_cli_telemetry._disk import contract
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath

ON = contract.ON
LOCAL = contract.LOCAL
OFF = contract.OFF
MODES = contract.MODES
#: Strictness: a rule can only lower the mode a machine policy allows.
_RANK = contract.RANK
#: What ``{PREFIX}_TELEMETRY`` (and the config file's ``mode``) accept, and what they mean.
_MODE_WORDS = {
    "on": ON, "enable": ON, "enabled": ON, "1": ON, "true": ON, "yes": ON,
    "local": LOCAL, "local-only": LOCAL, "local_only": LOCAL,
    "off": OFF, "disable": OFF, "disabled": OFF, "0": OFF, "false": OFF, "no": OFF,
}  # fmt: skip


def parse_mode(value: object) -> str | None:
    """``"on"``, ``"local"`` or ``"off"`` for a known word (any case), else None."""
    if isinstance(value, bool):
        return ON if value else OFF
    if not isinstance(value, str):
        return None
    return _MODE_WORDS.get(value.strip().lower())


class Decision(Record):
    """The outcome of consent resolution. ``rule`` is stable and machine-readable
    (``argument``, ``env``, ``policy``, ``config``, ``default``, ``ci_policy``,
    ``unsafe_home``, ``exporter``); ``mode`` is ``on``, ``local`` or ``off``."""

    __slots__ = ("enabled", "rule", "detail", "mode")

    def __init__(self, enabled: bool, rule: str, detail: str, mode: str | None = None) -> None:
        self.enabled = enabled
        self.rule = rule
        self.detail = detail
        self.mode = mode if mode is not None and enabled else (ON if enabled else OFF)

    def __bool__(self) -> bool:
        return self.enabled

    @property
    def local_only(self) -> bool:
        return self.mode == LOCAL


#: Why the exporter drops a queue it may no longer send (counted in ``delivery.json``).
WITHDRAWN = "consent_withdrawn"
LOCAL_ONLY = "consent_local_only"


def withdrawn(decision: Decision, destination_kind: str) -> str | None:
    """The drop reason if ``decision`` forbids sending to a destination of this kind now
    (``"file"``: the local file sink, which ``local`` mode keeps), else None."""
    if decision.mode == OFF:
        return WITHDRAWN
    if decision.mode == LOCAL and destination_kind != "file":
        return LOCAL_ONLY
    return None


def of_mode(mode: str, rule: str, detail: str) -> Decision:
    return Decision(mode != OFF, rule, detail, mode)


def resolve(
    env: "Mapping[str, str]",
    *,
    env_prefix: str,
    config_file: "StrPath | Callable[[], StrPath] | None",
    explicit: bool | None = None,
    service_name: str | None = None,
) -> Decision:
    """Apply the rules in order; the first that speaks decides, within the machine policy.
    The one precedence: the command (``Telemetry.consent``) and the exporter child
    (``recheck``) both decide here. ``config_file`` may be a callable, called only when
    the persisted choice is read (an opt-out resolves no path).

    1. ``explicit`` (the author's ``enabled=`` argument)
    2. an opt-out in the environment: ``{PREFIX}_TELEMETRY_DISABLED`` true,
       ``{PREFIX}_TELEMETRY=off``, ``DO_NOT_TRACK``, ``OTEL_SDK_DISABLED=true``,
       ``OTEL_TRACES_EXPORTER=none`` (off; nothing more is read)
    3. the machine policy (``policy.toml``): may force off, or cap at local, what follows
    4. ``{PREFIX}_TELEMETRY=local|on``, ``{PREFIX}_TELEMETRY_DISABLED`` false
    5. the persisted choice in ``config.toml`` (``telemetry enable|local|disable``)
    6. the default: on (opt-out model)
    """
    decision = from_env(env, env_prefix=env_prefix, explicit=explicit)
    if decision is not None and not decision.enabled:
        return decision
    cap = from_policy(env, service_name)
    if cap is not None and not cap.enabled:
        return cap
    if decision is None:
        decision = from_config(config_file() if callable(config_file) else config_file)
    return within(decision, cap)


def within(decision: Decision, cap: "Decision | None") -> Decision:
    """``decision``, lowered to the machine policy's ``cap`` (which then names the rule)."""
    if cap is None or _RANK[decision.mode] <= _RANK[cap.mode]:
        return decision
    return cap


def from_env(
    env: "Mapping[str, str]", *, env_prefix: str, explicit: bool | None = None
) -> Decision | None:
    """Rules 1, 2 and 4 of ``resolve``: None when neither the argument nor the environment
    speaks. An opt-out (``enabled`` False) is final; anything else is still subject to the
    machine policy."""
    if explicit is not None:
        return Decision(explicit, "argument", f"enabled={explicit} passed by the application")

    app_switch = contract.APP_DISABLED.format(prefix=env_prefix)
    app_value = contract.flag(env, app_switch)
    if app_value:
        return Decision(False, "env", f"{app_switch} is set")
    mode_var = contract.APP_MODE.format(prefix=env_prefix)
    raw_mode = contract.get(env, mode_var)
    mode = parse_mode(raw_mode) if raw_mode is not None else None
    if raw_mode is not None and mode is None:
        # An unrecognised word errs on the side of the user who set it.
        return Decision(False, "env", f"{mode_var}={raw_mode!r} is not on, local or off")
    if mode == OFF:
        return Decision(False, "env", f"{mode_var}={raw_mode}")
    if contract.do_not_track(env):
        return Decision(False, "env", f"{contract.DO_NOT_TRACK} is set")
    sdk_disabled = contract.get(env, contract.OTEL_SDK_DISABLED)
    if sdk_disabled is not None and sdk_disabled.lower() == "true":
        return Decision(False, "env", f"{contract.OTEL_SDK_DISABLED}=true")
    exporters = contract.get(env, contract.OTEL_TRACES_EXPORTER)
    if exporters is not None and {e.strip().lower() for e in exporters.split(",")} == {"none"}:
        return Decision(False, "env", f"{contract.OTEL_TRACES_EXPORTER}=none")
    if mode is not None:
        return of_mode(mode, "env", f"{mode_var}={raw_mode}")
    if app_value is False:
        return Decision(True, "env", f"{app_switch} is set to a false value")
    return None


def from_policy(env: "Mapping[str, str]", service_name: str | None) -> Decision | None:
    """Rule 3 of ``resolve``: what the machine policy allows this app at most, as a
    decision (off, or local), or None when no policy limits it."""
    file = contract.policy_path(env)
    try:
        os.lstat(file)  # most machines have none: then the policy reader is never loaded
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        pass  # unreadable or a strange name: ``load`` says why, and that means off
    from otel_cli_telemetry._disk import policy

    found = policy.load(file)
    if found is None:
        return None
    mode, why = found.mode_for(service_name)
    if mode == ON:
        return None
    return of_mode(mode, "policy", why)


def from_config(config_file: "StrPath | None") -> Decision:
    """Rules 5 and 6 of ``resolve``: the persisted choice, else on."""
    if config_file is not None:
        from otel_cli_telemetry._disk import state

        values = state.read_config(config_file)
        mode = parse_mode(values.get("mode"))
        if mode is None:
            mode = parse_mode(values.get("enabled"))
        if mode is not None:
            verb = {ON: "enabled", LOCAL: "local only", OFF: "disabled"}[mode]
            return of_mode(mode, "config", f"{verb} in {config_file}")
    return Decision(True, "default", "on by default; opt out with DO_NOT_TRACK=1")


def context(
    env: "Mapping[str, str]",
    *,
    env_prefix: str,
    service_name: str,
    config_file: "StrPath",
    explicit: bool | None,
) -> "dict[str, object]":
    """What the exporter child needs to decide again as this command did: the consent
    variables of its environment (values only of those), the app and its config file."""
    names = [n.format(prefix=env_prefix) for n in contract.CONSENT_ENV_NAMES]
    return {
        "env": {n: env[n] for n in names if env.get(n)},
        "env_prefix": env_prefix,
        "service_name": service_name,
        "config_file": str(config_file),
        "explicit": explicit,
    }


def recheck(saved: "Mapping[str, object] | None", own_env: "Mapping[str, str]") -> Decision:
    """The exporter child's decision before a batch: the environment it was given (the
    launching command's consent variables, then its own), the persisted choice and the
    machine policy, read now. Without a saved context, only the policy and own env speak."""
    saved = saved or {}
    prefix = saved.get("env_prefix")
    env_prefix = prefix if isinstance(prefix, str) else "OTEL_CLI_TELEMETRY_UNKNOWN_APP"
    env: dict[str, str] = {}
    given = saved.get("env")
    if isinstance(given, dict):
        env.update({k: v for k, v in given.items() if isinstance(k, str) and isinstance(v, str)})
    names = [n.format(prefix=env_prefix) for n in contract.CONSENT_ENV_NAMES]
    env.update({n: own_env[n] for n in names if own_env.get(n)})
    explicit = saved.get("explicit")
    config_file = saved.get("config_file")
    service = saved.get("service_name")
    return resolve(
        env,
        env_prefix=env_prefix,
        config_file=config_file if isinstance(config_file, str) and config_file else None,
        explicit=explicit if isinstance(explicit, bool) else None,
        service_name=service if isinstance(service, str) else None,
    )


def load_context(file: "StrPath") -> "dict[str, object] | None":
    """What the last command left for the child; None if missing or unreadable."""
    from otel_cli_telemetry._disk import state

    try:
        return state.read_json(file, max_bytes=64 * 1024)
    except (OSError, ValueError):
        return None


#: Why a queued trace is dropped unsent: its record names another destination.
MISDIRECTED = "destination_mismatch"


def may_send(
    decision: "Mapping[str, Any] | None",
    queue: str,
    kind: str,
    own_env: "Mapping[str, str]",
    legacy: "Mapping[str, object] | None" = None,
) -> str | None:
    """Whether a queued trace may go to ``queue`` (a destination of ``kind``) now: None if
    it may, else the reason it may not. The narrower of then and now: the mode its decision
    record names, and consent decided again now from the environment the command recorded
    (then this process's own), the persisted choice and the machine policy. A trace of an
    earlier version (no record) was recorded "on" under ``legacy``, the consent context the
    last command left."""
    if decision is None:
        then, saved = ON, legacy
    else:
        if queue not in decision.get("queues", ()):
            return MISDIRECTED
        then, saved = str(decision.get("mode")), decision.get("consent")
    now = recheck(saved if isinstance(saved, dict) else None, own_env).mode
    return withdrawn(of_mode(contract.narrower(then, now), "record", ""), kind)
