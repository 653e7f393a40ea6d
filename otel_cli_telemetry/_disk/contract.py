"""The on-disk contract between the CLI process and the exporter child, as data.

Both processes read and write the state dir through these names and records, and nothing
else of the package is imported here (only ``sys``): the file and directory names, the
environment variables both sides read, the spool record (versioned) and the decision
record every queued trace carries.

Spool record, version 1 (one JSON object per file)::

    {"otel_cli_telemetry_spool": 1,
     "decision": {"mode": "on" | "local", "queues": ["<queue id>", ...],
                  "consent": {"env": {...}, "env_prefix": "...", "service_name": "...",
                              "config_file": "...", "explicit": null}},
     "request": <an OTLP/JSON ExportTraceServiceRequest>}

A file without the version key (written by earlier versions) is a bare request: it is
treated as recorded under the destination its queue had then and the consent the last
command left (``consent.json``), read the narrowest way.

A queue id names a destination without its secrets: ``file`` for the local file sink,
else ``<kind>-<12 hex>`` (a digest of kind, endpoint, protocol and token; headers are
credentials of the same destination and may change without moving its queue).
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

# --- file and directory names in the state dir ---------------------------------------
CONFIG_FILE = "config.toml"
STATE_FILE = "state.json"
#: Earlier versions' record of the last command's destinations (read on upgrade only).
LEGACY_DESTINATION_FILE = "destination.json"
#: The last command's consent context (earlier versions' only record; kept for their files).
CONSENT_FILE = "consent.json"
SPOOL_DIR = "spool"
#: Each queue's destination, for the exporter child: ``queue.json`` / ``queue-<id>.json``.
QUEUE_FILE = "queue"
QUARANTINE_DIR = "quarantine"
SINK_FILE = "traces.jsonl"
STATE_LOCK = "state.lock"
SDK_FILE = "sdk.json"
#: An empty file per loss that could not be counted in ``delivery.json`` (``tallies``):
#: ``lost~<delivery file stem>~<reason>~<ns>-<pid>[-x<count>]``.
TALLY_PREFIX = "lost~"
#: A server may not push us further away than this, whatever its Retry-After says; no
#: back-off read from ``delivery.json`` lasts longer either (from the moment it is read).
MAX_RETRY_AFTER_S = 3600.0
#: The local file sink's queue id; its queue is ``spool/``.
FILE_QUEUE = "file"

# --- environment both sides read -------------------------------------------------------
#: The state dir, given to the exporter child.
HOME_ENV = "OTEL_CLI_TELEMETRY_HOME_DIR"
#: Set in the exporter child's environment so that nothing it runs can start another one.
CHILD_MARKER = "OTEL_CLI_TELEMETRY_EXPORTER_CHILD"
#: ``1``/``true``: telemetry off for this app. ``0``/``false``: on, even over a persisted "off".
APP_DISABLED = "{prefix}_TELEMETRY_DISABLED"
#: ``on`` / ``local`` (the local file sink only, nothing sent) / ``off``.
APP_MODE = "{prefix}_TELEMETRY"
APP_HOME = "{prefix}_TELEMETRY_HOME"
DO_NOT_TRACK = "DO_NOT_TRACK"
OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED"
OTEL_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
#: The machine policy file instead of the platform's (tests, packagers; see ``policy``).
POLICY_FILE = "OTEL_CLI_TELEMETRY_POLICY"
#: The variables a consent decision reads (``{prefix}``: the app's env prefix).
CONSENT_ENV_NAMES = (
    APP_DISABLED, APP_MODE, DO_NOT_TRACK, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, POLICY_FILE,
)  # fmt: skip

# --- how the exporter child is started ----------------------------------------------------
# The launcher starts it so; an exporter out of time starts its successor the same way.
EXPORTER_MODULE = "otel_cli_telemetry._exporter.child"
#: What the child runs: ``-c``, not ``-m``, which would load ``runpy`` and
#: ``importlib.util`` first (about a fifth of a lean CLI command's instructions, per child).
#: A constant: never a payload, a token or a header (``ps`` shows it).
EXPORTER_CODE = f"import sys; from {EXPORTER_MODULE} import main; sys.exit(main())"
#: Set in the child's environment when the app is frozen (PyInstaller and the like): the
#: binary is started again, and our runtime hook (``otel_cli_telemetry._pyinstaller``) turns
#: it into the exporter before any of the app's code runs.
FROZEN_EXPORTER_ENV = "OTEL_CLI_TELEMETRY_RUN_EXPORTER"
#: Every variable of ours in the child's environment starts so (``HOME_ENV``,
#: ``CHILD_MARKER``, ``FROZEN_EXPORTER_ENV``, the linger below).
OWN_ENV_PREFIX = "OTEL_CLI_TELEMETRY_"
#: What the child may inherit of the host's environment: finding Python and our package,
#: locale, temp dirs, proxies and CA bundles for its HTTPS requests. Nothing else.
CHILD_PASS_THROUGH = (
    "PATH", "HOME", "USERPROFILE", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP", "LANG", "LC_ALL",
    "PYTHONPATH", "VIRTUAL_ENV",
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR",
    # coverage.py measuring a test run (its own .pth starts it only when these are set):
    # lets our CI count the exporter child's lines; inert everywhere else.
    "COVERAGE_PROCESS_CONFIG", "COVERAGE_FILE",
    # shortens the child's linger (clamped to [0, LINGER_S] there): tests and packagers
    "OTEL_CLI_TELEMETRY_LINGER_S",
)  # fmt: skip

PROTOCOLS = ("http/protobuf", "http/json", "grpc")
DEFAULT_PROTOCOL = "http/protobuf"
GRPC = "grpc"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_EXPORT_DEADLINE_S = 10.0

# --- span attributes both sides read or write ---------------------------------------------
#: Only the command span carries it (``otlp_read.is_command_span``).
EXIT_CODE = "process.exit.code"
#: Announced by the exporter on a later command span after a loss.
DROPPED_TRACES = "cli_telemetry.dropped_traces"
DROPPED_REASONS = "cli_telemetry.dropped_reasons"
DROPPED_SPANS = "cli_telemetry.dropped_spans"

# --- consent modes -----------------------------------------------------------------------
ON = "on"
LOCAL = "local"
OFF = "off"
MODES = (ON, LOCAL, OFF)
#: Strictness: the narrower of two decisions is the one of lower rank.
RANK = {OFF: 0, LOCAL: 1, ON: 2}

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_warned: set[str] = set()


def warn_once(name: str, message: str) -> None:
    """Log a configuration problem once per process, at debug level only."""
    if name not in _warned:
        _warned.add(name)
        # Only through a ``logging`` the host already loaded: if it did not, no handler can
        # exist, the debug record would go nowhere, and importing it would cost the off path.
        logging = sys.modules.get("logging")
        if logging is not None:
            logging.getLogger("otel_cli_telemetry").debug("%s: %s", name, message)


def get(env: "Mapping[str, str]", name: str) -> str | None:
    """The variable's value stripped, or None when it is unset or empty."""
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def do_not_track(env: "Mapping[str, str]") -> bool:
    """``DO_NOT_TRACK`` (consoledonottrack.com asks for ``1``): any value turns telemetry
    off but ``0`` and ``false`` (any case); an empty value counts as unset. A user who set
    it wants off, so ``no``, ``off`` or a typo count as "do not track" too."""
    value = get(env, DO_NOT_TRACK)
    return value is not None and value.lower() not in ("0", "false")


def flag(env: "Mapping[str, str]", name: str) -> bool | None:
    """A boolean switch: True, False, or None when unset. Unknown words count as True
    (``DO_NOT_TRACK=please`` errs on the side of the user who set it)."""
    value = get(env, name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _FALSE:
        return False
    if lowered not in _TRUE:
        warn_once(name, f"unrecognised value {value!r} read as true")
    return True


POLICY_APP_DIR = "otel-cli-telemetry"
POLICY_FILE_NAME = "policy.toml"


def policy_default_path(env: "Mapping[str, str]", platform: "str | None" = None) -> str:
    """The platform's policy file (``platform`` defaults to ``sys.platform``)."""
    name = platform if platform is not None else sys.platform
    if name == "darwin":
        return f"/Library/Application Support/{POLICY_APP_DIR}/{POLICY_FILE_NAME}"
    if name == "win32":
        base = env.get("PROGRAMDATA") or env.get("ProgramData") or "C:\\ProgramData"
        return f"{base.rstrip(chr(92))}\\{POLICY_APP_DIR}\\{POLICY_FILE_NAME}"
    return f"/etc/{POLICY_APP_DIR}/{POLICY_FILE_NAME}"


def policy_path(env: "Mapping[str, str]") -> str:
    """The policy file this process honours: ``OTEL_CLI_TELEMETRY_POLICY`` or the default."""
    return get(env, POLICY_FILE) or policy_default_path(env)


# --- the spool record and the decision record --------------------------------------------
SPOOL_VERSION_KEY = "otel_cli_telemetry_spool"
SPOOL_VERSION = 1


def decision_record(
    mode: str, queues: "list[str]", consent: "Mapping[str, object] | None"
) -> "dict[str, Any]":
    """What decided a trace: the mode, the queues (destinations) it was recorded for, and the
    consent context (the command's consent variables, app and config file)."""
    return {"mode": mode, "queues": list(queues), "consent": dict(consent or {})}


def spool_record(
    decision: "Mapping[str, Any]", request_json: bytes, dumps: "Callable[[Any], str]"
) -> bytes:
    """One spool file's bytes: the record around an already encoded request (not re-encoded)."""
    head: str = dumps({SPOOL_VERSION_KEY: SPOOL_VERSION, "decision": decision})
    return head[:-1].encode() + b',"request":' + request_json + b"}"


def parse_spool(data: "Mapping[str, Any]") -> "tuple[dict[str, Any], dict[str, Any] | None]":
    """(request, decision) of a parsed spool file; decision None for an earlier version's bare
    request. ValueError for a record of an unknown version or a malformed decision."""
    if SPOOL_VERSION_KEY not in data:
        return dict(data), None
    if data.get(SPOOL_VERSION_KEY) != SPOOL_VERSION:
        raise ValueError("spool record of an unknown version")
    request, decision = data.get("request"), data.get("decision")
    if not isinstance(request, dict) or not isinstance(decision, dict):
        raise ValueError("spool record without request or decision")
    mode, queues = decision.get("mode"), decision.get("queues")
    if mode not in (ON, LOCAL) or not isinstance(queues, list):
        raise ValueError("malformed decision record")
    if not all(isinstance(q, str) for q in queues) or not isinstance(decision.get("consent"), dict):
        raise ValueError("malformed decision record")
    return request, decision


def narrower(first: str, second: str) -> str:
    """The stricter of two modes."""
    return first if RANK.get(first, 0) <= RANK.get(second, 0) else second


def queue_id(kind: str, identity: "list[object]") -> str:
    """A destination's queue id, without its secrets: ``file``, or ``<kind>-<digest>``."""
    if kind == "file":
        return FILE_QUEUE
    try:  # the bare BLAKE2 module: ``hashlib`` loads OpenSSL, a cost on every command
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - a Python built without it
        from hashlib import blake2b
    data = repr([kind, *identity]).encode("utf-8", "replace")
    return f"{kind}-{blake2b(data, digest_size=6).hexdigest()}"


def env_prefix_for(service_name: str) -> str:
    """``"my-cli"`` -> ``"MY_CLI"``: the default prefix of the app's own variables.

    Each run of characters other than ASCII letters and digits becomes one ``_`` (a loop, not
    ``re``, which is not loaded at start-up).
    """
    chars: list[str] = []
    for char in service_name:
        if char.isascii() and char.isalnum():
            chars.append(char)
        elif not chars or chars[-1] != "_":
            chars.append("_")
    prefix = "".join(chars).strip("_").upper()
    return prefix or "APP"
