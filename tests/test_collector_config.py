"""collector-config/: the ready collector configurations hang together, bind loopback, keep
every secret in the environment, and (for rotel, the collector installable here) really carry a
CLI's span.

The ``otelcol-*.yaml`` files are for the upstream OpenTelemetry Collector (contrib), which is not
installable here: they are checked structurally. The rotel ``.env`` files are loaded the way a
POSIX shell loads them and started for real through the ``Rotel`` harness:

    CLI ──OTLP/HTTP──▶ rotel (configured by the .env file) ──▶ OtlpReceiver (backend or intake)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.collector import OtlpReceiver, ReceivedSpan, Rotel, rotel_binary_or_skip
from tests.conftest import ROOT, cli_env, run_example, wait_for_exporters

CONFIG_DIR = ROOT / "collector-config"
README = CONFIG_DIR / "README.md"
YAML_FILES = sorted(CONFIG_DIR.glob("*.yaml"))
ENV_FILES = sorted(CONFIG_DIR.glob("*.env"))

# Component types these configs may use (the part of a name before "/"): a typo is an error.
KNOWN_TYPES = {
    "receivers": {"otlp"},
    "processors": {"memory_limiter", "batch"},
    "exporters": {"otlphttp", "otlp", "datadog", "debug", "loadbalancing"},
    "connectors": {"datadog"},
}
SIGNALS = {"traces", "metrics", "logs"}
# Keys whose value is a credential wherever they appear; every value under `headers` is one too.
SECRET_KEYS = {
    "key",
    "api_key",
    "apikey",
    "token",
    "bearer_token",
    "password",
    "secret",
    "client_secret",
    "authorization",
}
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# The Collector's env provider: ${env:NAME} or ${env:NAME:-default}.
COLLECTOR_REF = re.compile(rf"\$\{{env:(?P<name>{ENV_NAME})(?::-(?P<default>[^}}]*))?\}}")
SECRET_REF = re.compile(rf"\$\{{env:{ENV_NAME}\}}")  # a secret: the whole value, no default
ANY_REF = re.compile(r"\$\{[^}]*\}")
# Credentials that must never appear literally in any file here.
LITERAL_SECRETS = [
    re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])"),  # Datadog API key shape
    re.compile(r"\bpub[0-9a-f]{32}\b"),  # Datadog client token
    re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\bBasic\s+[A-Za-z0-9+/=]{8,}"),
]
LOOPBACK = "127.0.0.1"

FAKE_DD_API_KEY = "feedfacecafebeef" * 2  # shaped like a key; the intake here is local
FAKE_AUTHORIZATION = "Bearer test-only-token"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@cache
def load(path: Path) -> dict[str, Any]:
    """The parsed YAML document (a mapping)."""
    doc = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(doc, dict), f"{path.name}: not a mapping"
    return doc


def ctype(name: str) -> str:
    """Component type of a ``type`` or ``type/name`` component id."""
    return name.split("/", 1)[0]


def pipelines(cfg: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    found = cfg["service"]["pipelines"]
    assert isinstance(found, dict)
    assert found, "no pipeline"
    return found


def section(cfg: Mapping[str, Any], name: str) -> dict[str, Any]:
    return cfg.get(name) or {}


def scalars(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf of a parsed document with the path of keys leading to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from scalars(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from scalars(value, (*path, str(index)))
    else:
        yield path, node


def is_secret_path(path: tuple[str, ...]) -> bool:
    return "headers" in path[:-1] or path[-1].lower() in SECRET_KEYS


def yaml_env_names(path: Path) -> set[str]:
    """Names of the environment variables the configuration reads (comments aside)."""
    return {
        m["name"]
        for _, value in scalars(load(path))
        if isinstance(value, str)
        for m in COLLECTOR_REF.finditer(value)
    }


def otelcol(name: str) -> Path:
    path = CONFIG_DIR / name
    assert path in YAML_FILES, f"{name} is missing"
    return path


# -- rotel .env files --------------------------------------------------------------------------

ENV_LINE = re.compile(rf"^(?P<name>{ENV_NAME})=(?P<value>.*)$")
SHELL_REF = re.compile(rf"\$\{{(?P<name>{ENV_NAME})(?:(?P<op>:[-?])(?P<word>[^}}]*))?\}}")


class UnsetVariableError(LookupError):
    """A ``${NAME:?message}`` reference met an unset or empty variable (the shell stops)."""


def parse_env_file(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables a POSIX shell sets with ``set -a; . path``, for this simple dialect.

    One ``NAME=value`` per line, ``#`` comments, no quoting; a value may hold ``${NAME}``,
    ``${NAME:-default}`` (default if unset or empty) and ``${NAME:?message}`` (stop).
    ``test_env_file_loads_like_a_posix_shell`` holds this to what ``sh`` really does.
    """
    out: dict[str, str] = {}
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = ENV_LINE.match(line)
        assert match, f"{path.name}:{number}: not NAME=value: {raw!r}"
        value = match["value"]
        # No quoting, escaping, command substitution or bare $NAME: outside ${...} references
        # a value is taken literally, and a space there would end the assignment in sh.
        special = set("'\"`\\$ ")
        assert not set(SHELL_REF.sub("", value)) & special, f"{path.name}:{number}: {raw!r}"
        for ref in SHELL_REF.finditer(value):
            assert not set(ref["word"] or "") & (special - {" "}), f"{path.name}:{number}"

        def expand(ref: re.Match[str], number: int = number) -> str:
            current = environ.get(ref["name"], "")
            if ref["op"] == ":-":
                return current or ref["word"]
            if ref["op"] == ":?" and not current:
                raise UnsetVariableError(f"{path.name}:{number}: {ref['name']}: {ref['word']}")
            return current

        out[match["name"]] = SHELL_REF.sub(expand, value)
    return out


def shell_env_names(path: Path) -> set[str]:
    """Names of the variables the file reads from the environment (not those it sets)."""
    lines = [x for x in path.read_text("utf-8").splitlines() if not x.lstrip().startswith("#")]
    return {m["name"] for line in lines for m in SHELL_REF.finditer(line)}


def rotel_help_env_names() -> set[str]:
    """Every ``ROTEL_*`` variable that ``rotel-agent start --help`` lists."""
    binary = rotel_binary_or_skip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTEL_")}
    # rotel-agent links libpython of the interpreter its wheel targets (as tests/collector.py
    # explains); outside a system Python the loader needs that LIBDIR.
    libdir = sysconfig.get_config_var("LIBDIR")
    if isinstance(libdir, str) and os.path.isdir(libdir):
        var = "DYLD_FALLBACK_LIBRARY_PATH" if sys.platform == "darwin" else "LD_LIBRARY_PATH"
        env[var] = os.pathsep.join(p for p in (env.get(var, ""), libdir) if p)
    result = subprocess.run(
        [str(binary), "start", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    names = set(re.findall(r"\[env: (ROTEL_[A-Z0-9_]+)=", result.stdout))
    assert len(names) > 20, result.stdout  # the help format changed?
    return names


def readme_code_blocks() -> list[str]:
    """The fenced code blocks of collector-config/README.md."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in README.read_text("utf-8").splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    assert current is None, "unclosed code block"
    return blocks


def readme_rotel_flags() -> set[str]:
    """Every ``--flag`` of the README's ``"$ROTEL_AGENT" start`` command lines."""
    flags: set[str] = set()
    for block in readme_code_blocks():
        for command in re.split(r"(?<!\\)\n", block):  # keep backslash-continued lines
            if '"$ROTEL_AGENT" start' in command:
                flags.update(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", command))
    return flags


def flag_env_name(flag: str) -> str:
    return "ROTEL_" + flag.removeprefix("--").replace("-", "_").upper()


def without_receiver_endpoints(env: Mapping[str, str]) -> dict[str, str]:
    """The file's settings minus its fixed 4317/4318: the harness listens on free ports."""
    return {
        k: v
        for k, v in env.items()
        if k not in {"ROTEL_OTLP_GRPC_ENDPOINT", "ROTEL_OTLP_HTTP_ENDPOINT"}
    }


def wait_for_span(receiver: OtlpReceiver, name: str, timeout: float = 20.0) -> list[ReceivedSpan]:
    """Every span of the trace whose span is called ``name``, once it arrived."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        spans = receiver.spans()
        roots = [s for s in spans if s.name == name]
        if roots:
            return [s for s in spans if s.trace_id == roots[-1].trace_id]
        time.sleep(0.05)
    raise AssertionError(f"no span {name!r}; got {[s.name for s in receiver.spans()]}")


# --------------------------------------------------------------------------------------------
# otelcol-*.yaml: structure
# --------------------------------------------------------------------------------------------


def test_the_expected_files_exist() -> None:
    """Every shipped collector configuration exists and the collector-config README says when to use
    each one."""
    names = {p.name for p in [*YAML_FILES, *ENV_FILES]}
    assert {
        "otelcol-agent.yaml",
        "otelcol-agent-debug.yaml",
        "otelcol-agent-loadbalancing.yaml",
        "otelcol-gateway.yaml",
        "rotel-agent.env",
        "rotel-agent-datadog.env",
    } <= names
    readme = README.read_text("utf-8")
    for name in sorted(names):
        assert f"`{name}`" in readme, f"README does not say when to use {name}"


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_pipelines_use_exactly_the_defined_components(path: Path) -> None:
    """Every id a pipeline names is defined in its section, nothing defined is left unused, and
    every type is one of the components these configs are meant to use (typo guard)."""
    cfg = load(path)
    connectors = section(cfg, "connectors")
    used: dict[str, set[str]] = {kind: set() for kind in KNOWN_TYPES}
    for pipeline_id, spec in pipelines(cfg).items():
        assert ctype(pipeline_id) in SIGNALS, pipeline_id
        assert set(spec) <= {"receivers", "processors", "exporters"}, pipeline_id
        assert spec.get("receivers"), f"{pipeline_id}: no receiver"
        assert spec.get("exporters"), f"{pipeline_id}: no exporter"
        for role in ("receivers", "processors", "exporters"):
            ids = spec.get(role) or []
            assert len(ids) == len(set(ids)), f"{pipeline_id}: {role} repeated"
            for component in ids:
                kind = "connectors" if role != "processors" and component in connectors else role
                assert component in section(cfg, kind), f"{pipeline_id}: {component} undefined"
                used[kind].add(component)
    for kind, known in KNOWN_TYPES.items():
        defined = set(section(cfg, kind))
        assert defined == used[kind], f"{kind} defined but unused: {defined - used[kind]}"
        assert {ctype(c) for c in defined} <= known, f"unexpected {kind}: {defined}"


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_connectors_bridge_two_pipelines(path: Path) -> None:
    """A connector is an exporter in one pipeline and a receiver in another; the datadog one
    turns traces into the metrics (APM stats) of a pipeline that exports to Datadog."""
    cfg = load(path)
    for connector in section(cfg, "connectors"):
        into = [p for p, s in pipelines(cfg).items() if connector in s["exporters"]]
        out_of = [p for p, s in pipelines(cfg).items() if connector in s["receivers"]]
        assert into, f"{connector} is never an exporter"
        assert out_of, f"{connector} is never a receiver"
        assert not set(into) & set(out_of), f"{connector} loops within one pipeline"
        if ctype(connector) == "datadog":
            assert {ctype(p) for p in into} == {"traces"}
            assert {ctype(p) for p in out_of} == {"metrics"}
            for pipeline_id in out_of:
                exporters = pipelines(cfg)[pipeline_id]["exporters"]
                assert any(ctype(e) == "datadog" for e in exporters), pipeline_id


def test_every_datadog_exporter_gets_apm_stats_from_the_connector() -> None:
    """Since contrib v0.95 the datadog exporter computes no APM stats: each traces pipeline that
    exports to Datadog also feeds the datadog connector. Key and site come from the env."""
    with_datadog = []
    for path in YAML_FILES:
        cfg = load(path)
        for name, exporter in section(cfg, "exporters").items():
            if ctype(name) != "datadog":
                continue
            with_datadog.append(path.name)
            assert exporter["api"]["key"] == "${env:DD_API_KEY}", path.name
            assert exporter["api"]["site"] == "${env:DD_SITE}", path.name
            for pipeline_id, spec in pipelines(cfg).items():
                if name in spec["exporters"] and ctype(pipeline_id) == "traces":
                    assert any(
                        ctype(e) == "datadog" and e in section(cfg, "connectors")
                        for e in spec["exporters"]
                    ), f"{path.name}:{pipeline_id}: datadog without datadog/connector"
    assert sorted(with_datadog) == ["otelcol-agent.yaml", "otelcol-gateway.yaml"]


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_memory_limiter_first_and_batch_last(path: Path) -> None:
    """Every pipeline ends with batch, starts with memory_limiter when it receives outside data, and
    each limiter is configured."""
    cfg = load(path)
    for pipeline_id, spec in pipelines(cfg).items():
        processors = spec.get("processors") or []
        assert processors, f"{pipeline_id}: no batch processor"
        assert ctype(processors[-1]) == "batch", pipeline_id
        if any(r in section(cfg, "receivers") for r in spec["receivers"]):
            # Data from outside: refuse it before memory runs out, ahead of any buffering.
            assert ctype(processors[0]) == "memory_limiter", pipeline_id
    for name, limiter in section(cfg, "processors").items():
        if ctype(name) == "memory_limiter":
            assert limiter["check_interval"] == "1s"
            assert "limit_mib" in limiter or "limit_percentage" in limiter


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_everything_listens_on_loopback(path: Path) -> None:
    """Agents bind 127.0.0.1:4317/4318 literally; the gateway binds an address the operator
    chooses, loopback when unset. Nothing binds all interfaces."""
    cfg = load(path)
    text = path.read_text("utf-8")
    assert "0.0.0.0" not in text
    assert "localhost" not in text  # may resolve to ::1 alone; be explicit
    for name, receiver in section(cfg, "receivers").items():
        assert ctype(name) == "otlp"
        protocols = receiver["protocols"]
        assert set(protocols) == {"grpc", "http"}
        for protocol, settings in protocols.items():
            port = {"grpc": "4317", "http": "4318"}[protocol]
            host, _, actual_port = settings["endpoint"].rpartition(":")
            assert actual_port == port
            if path.name.startswith("otelcol-agent"):
                assert host == LOOPBACK, f"{path.name}: {protocol} binds {host}"
            else:
                ref = COLLECTOR_REF.fullmatch(host)
                assert host == LOOPBACK or (ref and ref["default"] == LOOPBACK), host
    for reader in cfg["service"].get("telemetry", {}).get("metrics", {}).get("readers", []):
        assert reader["pull"]["exporter"]["prometheus"]["host"] == LOOPBACK


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_no_secret_literal_and_only_env_references(path: Path) -> None:
    """Every credential (api keys, tokens, passwords, Authorization, any header) is exactly a
    ``${env:NAME}`` reference with no default; every ``${...}`` uses the env provider."""
    cfg = load(path)
    for key_path, value in scalars(cfg):
        where = f"{path.name}: {'.'.join(key_path)}"
        if is_secret_path(key_path):
            assert isinstance(value, str), where
            assert SECRET_REF.fullmatch(value), f"{where} must be a ${{env:NAME}} reference"
        if isinstance(value, str):
            for ref in ANY_REF.findall(value):
                assert COLLECTOR_REF.fullmatch(ref), f"{where}: {ref} is not ${{env:NAME}}"
    text = path.read_text("utf-8")
    for pattern in LITERAL_SECRETS:
        assert not pattern.search(text), f"{path.name}: {pattern.pattern}"


def test_loadbalancing_agent_routes_by_trace_to_the_gateway_tier() -> None:
    """The load-balancing agent routes by trace id over TLS to the gateway's gRPC port and holds no
    backend credential, which only the gateway exports with."""
    agent = load(otelcol("otelcol-agent-loadbalancing.yaml"))
    gateway = load(otelcol("otelcol-gateway.yaml"))
    [(name, lb)] = section(agent, "exporters").items()
    assert ctype(name) == "loadbalancing"
    assert lb["routing_key"] == "traceID"
    otlp = lb["protocol"]["otlp"]
    assert "endpoint" not in otlp  # each gateway's address comes from the resolver
    assert otlp["tls"]["insecure"] is False
    resolvers = lb["resolver"]
    assert len(resolvers) == 1
    assert set(resolvers) <= {"static", "dns", "k8s"}
    if "dns" in resolvers:
        assert COLLECTOR_REF.fullmatch(resolvers["dns"]["hostname"])
        port = str(resolvers["dns"]["port"])
    else:
        port = {h.rpartition(":")[2] for h in resolvers["static"]["hostnames"]}.pop()
    # ... to the gateway's OTLP/gRPC receiver, which speaks TLS.
    grpc = gateway["receivers"]["otlp"]["protocols"]["grpc"]
    assert grpc["endpoint"].endswith(f":{port}")
    assert set(grpc["tls"]) == {"cert_file", "key_file"}
    # The agents hold no backend credential: only the gateway exports to the backends.
    assert not yaml_env_names(otelcol("otelcol-agent-loadbalancing.yaml")) & {
        "DD_API_KEY",
        "OTLP_BACKEND_AUTHORIZATION",
    }
    gateway_exporters = {ctype(e) for e in section(gateway, "exporters")}
    assert {"otlphttp", "datadog"} <= gateway_exporters


def test_debug_agent_prints_everything_and_sends_nowhere() -> None:
    """The debug agent receives like the agent, exports only to the detailed debug exporter and
    reads no variable."""
    debug = load(otelcol("otelcol-agent-debug.yaml"))
    agent = load(otelcol("otelcol-agent.yaml"))
    assert debug["receivers"] == agent["receivers"]
    assert section(debug, "exporters") == {"debug": {"verbosity": "detailed"}}
    assert yaml_env_names(otelcol("otelcol-agent-debug.yaml")) == set()


def test_agent_sends_to_the_backend_named_by_the_environment() -> None:
    """The agent's otlphttp exporter takes its endpoint and authorization from environment
    references, not literals."""
    agent = load(otelcol("otelcol-agent.yaml"))
    [backend] = [e for n, e in section(agent, "exporters").items() if ctype(n) == "otlphttp"]
    assert backend["endpoint"] == "${env:OTLP_BACKEND_ENDPOINT}"
    assert backend["headers"] == {"authorization": "${env:OTLP_BACKEND_AUTHORIZATION}"}


def test_readme_documents_every_variable_the_configs_read() -> None:
    """Every variable the configurations read is documented in their README, which holds no literal
    secret."""
    readme = README.read_text("utf-8")
    names = set().union(*map(yaml_env_names, YAML_FILES), *map(shell_env_names, ENV_FILES))
    assert names  # the configs do read their settings from the environment
    for name in sorted(names):
        assert f"`{name}`" in readme, f"{name} is not documented in collector-config/README.md"
    for pattern in LITERAL_SECRETS:
        assert not pattern.search(readme), pattern.pattern


# --------------------------------------------------------------------------------------------
# rotel .env files: what a shell makes of them, and whether rotel knows every name
# --------------------------------------------------------------------------------------------

SHELL_INPUTS = {
    "OTLP_BACKEND_ENDPOINT": "https://otlp.example.test",
    "OTLP_BACKEND_AUTHORIZATION": "Bearer x=y z",  # '=' and a space survive
    "DD_API_KEY": FAKE_DD_API_KEY,
}


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_file_loads_like_a_posix_shell(path: Path) -> None:
    """``set -a; . file`` in /bin/sh sets exactly what parse_env_file says, and stops (as the
    parser does) when a required variable is missing."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    script = 'set -a; . "$1"; set +a; env'
    shell = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(path)],
        env={**base, **SHELL_INPUTS},
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    exported = dict(
        line.split("=", 1) for line in shell.stdout.splitlines() if line.startswith("ROTEL_")
    )
    assert exported == parse_env_file(path, SHELL_INPUTS)

    for required in sorted(shell_env_names(path) & set(SHELL_INPUTS)):
        inputs = {k: v for k, v in SHELL_INPUTS.items() if k != required}
        stopped = subprocess.run(
            ["/bin/sh", "-c", script, "sh", str(path)],
            env={**base, **inputs},
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert stopped.returncode != 0
        assert required in stopped.stderr
        with pytest.raises(UnsetVariableError, match=required):
            parse_env_file(path, inputs)


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_file_binds_loopback_and_reads_secrets_from_the_environment(path: Path) -> None:
    """Each rotel env file binds loopback ports and takes every credential from a required
    environment reference, never a literal."""
    text = path.read_text("utf-8")
    for pattern in LITERAL_SECRETS:
        assert not pattern.search(text), pattern.pattern
    settings = parse_env_file(path, SHELL_INPUTS)
    assert settings["ROTEL_OTLP_GRPC_ENDPOINT"] == f"{LOOPBACK}:4317"
    assert settings["ROTEL_OTLP_HTTP_ENDPOINT"] == f"{LOOPBACK}:4318"
    raw = dict(
        line.split("=", 1)
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    for name, value in raw.items():
        if re.search(r"API_KEY|PASSWORD|TOKEN|SECRET|HEADERS", name):
            # The credential part is a required reference: ${NAME:?message}, never a literal.
            refs = list(SHELL_REF.finditer(value))
            assert refs, f"{name} holds a literal"
            assert all(ref["op"] == ":?" for ref in refs), name
            assert SHELL_REF.sub("", value) in {"", "Authorization="}, name


def test_env_files_and_readme_use_only_real_rotel_flags() -> None:
    """Every ``ROTEL_*`` name in the .env files, and every flag of the README's rotel command
    lines, is one that ``rotel-agent start --help`` lists."""
    known = rotel_help_env_names()
    for path in ENV_FILES:
        names = set(parse_env_file(path, SHELL_INPUTS))
        assert names <= known, f"{path.name}: not rotel settings: {sorted(names - known)}"
    flags = readme_rotel_flags()
    assert "--exporter" in flags  # the README does show a full command line
    unknown = {f for f in flags if flag_env_name(f) not in known and f != "--help"}
    assert not unknown, f"README uses flags rotel does not have: {sorted(unknown)}"


# --------------------------------------------------------------------------------------------
# rotel for real: a CLI's span through each .env configuration
# --------------------------------------------------------------------------------------------


@pytest.mark.collector
@pytest.mark.usefixtures("reap_exporters")
def test_rotel_agent_env_delivers_the_cli_span_to_the_backend(home: Path) -> None:
    """rotel-agent.env, with the backend variables pointing at a local OtlpReceiver: the
    example CLI's command span (and its child span) arrive, with the configured header."""
    binary = rotel_binary_or_skip()
    with OtlpReceiver() as backend:
        settings = parse_env_file(
            CONFIG_DIR / "rotel-agent.env",
            {
                "OTLP_BACKEND_ENDPOINT": backend.url,
                "OTLP_BACKEND_AUTHORIZATION": FAKE_AUTHORIZATION,
            },
        )
        with Rotel(
            exporter_args=[], env=without_receiver_endpoints(settings), binary=binary
        ) as rotel:
            env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=rotel.http_endpoint)
            result = run_example("typer_cli.py", "transcribe", "a.wav", env=env)
            assert result.returncode == 0, result.stderr
            assert result.stderr == ""
            spans = wait_for_span(backend, "assembly transcribe")
            wait_for_exporters(home)
        [root] = [s for s in spans if s.name == "assembly transcribe"]
        [child] = [s for s in spans if s.name == "load model"]
        assert child.parent_span_id == root.span_id
        assert root.resource_attributes["service.name"] == "assembly"
        traces = [r for r in backend.requests if r.path == "/v1/traces"]
        assert traces
        assert {r.headers.get("authorization") for r in traces} == {FAKE_AUTHORIZATION}
        assert {r.headers.get("content-encoding") for r in traces} == {"gzip"}


@pytest.mark.collector
@pytest.mark.usefixtures("reap_exporters")
def test_rotel_datadog_env_ships_the_cli_span_to_the_datadog_intake(home: Path) -> None:
    """rotel-agent-datadog.env, with the intake overridden to a local server (rotel's
    ``--datadog-exporter-custom-endpoint``): rotel POSTs the CLI's span to the Datadog trace
    intake path with the API key from DD_API_KEY and the env from DD_ENV."""
    binary = rotel_binary_or_skip()
    with OtlpReceiver() as intake:
        settings = parse_env_file(
            CONFIG_DIR / "rotel-agent-datadog.env",
            {"DD_API_KEY": FAKE_DD_API_KEY, "DD_ENV": "config-test"},
        )
        settings["ROTEL_DATADOG_EXPORTER_CUSTOM_ENDPOINT"] = intake.url
        with Rotel(
            exporter_args=[], env=without_receiver_endpoints(settings), binary=binary
        ) as rotel:
            env = cli_env(home, OTEL_EXPORTER_OTLP_ENDPOINT=rotel.http_endpoint)
            result = run_example("typer_cli.py", "transcribe", "a.wav", env=env)
            assert result.returncode == 0, result.stderr
            assert result.stderr == ""
            intake.wait_for_requests(1, timeout=20)
            wait_for_exporters(home)
        requests = intake.requests
    assert {r.path for r in requests} == {"/api/v0.2/traces"}
    assert {r.headers.get("dd-api-key") for r in requests} == {FAKE_DD_API_KEY}
    payload = b"".join(r.payload or b"" for r in requests)
    assert b"assembly transcribe" in payload  # the command span, in Datadog's protobuf
    assert b"config-test" in payload  # DD_ENV became the Datadog env
    assert b"a.wav" not in payload  # argument values never leave the CLI
