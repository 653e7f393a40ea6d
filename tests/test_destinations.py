"""The destination objects: ``OTLP``, ``Datadog`` and ``PostHog`` check themselves, resolve
the environment's overrides, keep their secrets out of every repr, and travel to the
exporter child through the same ``destination.json`` as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from otel_cli_telemetry import OTLP, Datadog, PostHog, Telemetry
from otel_cli_telemetry._disk import destination, inventory, state
from otel_cli_telemetry._process import config
from tests import test_datadog, test_posthog
from tests.collector import OtlpReceiver
from tests.test_datadog import API_KEY, TOKEN, Intake
from tests.test_imports import LIGHT_ENTRY, probe_env, run_python
from tests.test_posthog import KEY, PostHogServer

OTHER_TOKEN = "pub" + "f" * 32
#: The local Datadog intake and PostHog server of their own tests (fixtures).
intake = test_datadog.intake
server = test_posthog.server


def make(home: Path, env: dict[str, str] | None = None, **kwargs: Any) -> Telemetry:
    return Telemetry("assembly", home=home, env=env or {}, spawn=lambda *a, **k: None, **kwargs)


# --- each class checks its arguments --------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: OTLP(protocol="http/xml"), "OTLP protocol must be one of http/protobuf"),
        (lambda: OTLP(""), "OTLP endpoint must be a URL"),
        (lambda: OTLP("ftp://collector:4318"), r"OTLP endpoint must be an http\(s\) URL"),
        (lambda: OTLP("collector:4318", protocol="http/json"), "only with protocol='grpc'"),
        (lambda: OTLP(headers={"x-api-key": 1}), "OTLP headers must map header names"),
        (lambda: OTLP(headers=["x-api-key=1"]), "OTLP headers must map header names"),
        (lambda: Datadog(API_KEY), "looks like a Datadog API key"),
        (lambda: Datadog("pub123"), "not a Datadog client token"),
        (lambda: Datadog(TOKEN, site="datadoghq.org"), "unknown Datadog site"),
        (lambda: Datadog(site="mars"), "unknown Datadog site"),
        (lambda: Datadog(TOKEN, proxy_url="ftp://proxy"), "proxy URL must be an http"),
        (lambda: PostHog("phx_" + "z" * 30), "PostHog personal API key"),
        (lambda: PostHog("0123456789abcdef" * 2), "not a PostHog project API key"),
        (lambda: PostHog(KEY, host="ftp://x"), "PostHog host must be an http"),
    ],
)
def test_bad_arguments_are_refused_saying_why(build: Any, message: str) -> None:
    """Each class refuses a bad argument when it is made, with a message that says what
    is wrong (and never repeats a key)."""
    with pytest.raises(ValueError, match=message) as caught:
        build()
    assert API_KEY not in str(caught.value)
    assert "z" * 30 not in str(caught.value)


def test_good_arguments_are_normalised() -> None:
    """Protocols in any case, keys stripped, header names lower-cased; gRPC accepts
    host:port."""
    otlp = OTLP(" http://c:4318 ", protocol=" HTTP/JSON ", headers={"X-Api-Key": "s"})
    assert (otlp.endpoint, otlp.protocol, otlp.headers) == (
        "http://c:4318", "http/json", {"x-api-key": "s"},
    )  # fmt: skip
    assert OTLP("c:4317", protocol="grpc").endpoint == "c:4317"
    assert Datadog(f" {TOKEN} ").client_token == TOKEN
    assert PostHog(f" {KEY} ").api_key == KEY


# --- the environment's overrides, in the documented order -----------------------------


def test_otlp_argument_beats_the_environment() -> None:
    """Endpoint and protocol: the argument beats ``OTEL_EXPORTER_OTLP_[TRACES_]*``;
    headers are merged, the argument winning per name; the rest comes from the env."""
    env = {
        config.OTLP_TRACES_ENDPOINT: "http://env-traces:4318/custom",
        config.OTLP_ENDPOINT: "http://env:4318",
        config.OTLP_PROTOCOL: "HTTP/JSON",
        config.OTLP_HEADERS: "x-team=env,x-env-only=1",
        config.OTLP_TIMEOUT: "2500",
    }
    author = OTLP("http://author:4318", protocol="http/protobuf", headers={"X-Team": "author"})
    record = author.resolve(env, deadline_s=3)
    assert record is not None
    assert (record.kind, record.endpoint, record.protocol) == (
        "otlp", "http://author:4318/v1/traces", "http/protobuf",
    )  # fmt: skip
    assert record.headers == {"x-team": "author", "x-env-only": "1"}
    assert (record.timeout_s, record.deadline_s) == (2.5, 3)

    from_env = OTLP().resolve(env)
    assert from_env is not None
    assert (from_env.endpoint, from_env.protocol) == ("http://env-traces:4318/custom", "http/json")
    assert OTLP().resolve({}) is None


def test_datadog_environment_beats_the_author() -> None:
    """Datadog is the exception, on purpose: an operator reroutes a shipped CLI with
    ``{PREFIX}_TELEMETRY_DATADOG_*`` and ``DD_SITE``; bad values there are ignored."""
    author = Datadog(TOKEN, site="datadoghq.com", proxy_url="https://author-proxy/dd")
    env = {
        "ASSEMBLY_TELEMETRY_DATADOG_CLIENT_TOKEN": OTHER_TOKEN,
        "ASSEMBLY_TELEMETRY_DATADOG_URL": "https://company-proxy/dd",
    }
    record = author.resolve(env, env_prefix="ASSEMBLY")
    assert record is not None
    assert (record.token, record.endpoint) == (OTHER_TOKEN, "https://company-proxy/dd")

    bad = {"ASSEMBLY_TELEMETRY_DATADOG_CLIENT_TOKEN": API_KEY, "DD_SITE": "nonsense",
           "ASSEMBLY_TELEMETRY_DATADOG_URL": "ftp://nope"}  # fmt: skip
    record = author.resolve(bad, env_prefix="ASSEMBLY")
    assert record is not None
    assert (record.token, record.endpoint) == (TOKEN, "https://author-proxy/dd")

    site = Datadog(TOKEN).resolve({"DD_SITE": "datadoghq.eu"}, env_prefix="ASSEMBLY")
    assert site is not None
    assert site.endpoint == "https://browser-intake-datadoghq.eu/api/v2/logs"


def test_datadog_without_a_token_sends_only_when_the_environment_gives_one() -> None:
    """``Datadog(site=...)`` is configured by the operator's token alone; the app's own
    variables are not read without a prefix."""
    env = {"ASSEMBLY_TELEMETRY_DATADOG_CLIENT_TOKEN": OTHER_TOKEN}
    assert Datadog(site="eu").resolve({}, env_prefix="ASSEMBLY") is None
    assert Datadog(site="eu").resolve(env) is None
    record = Datadog(site="eu").resolve(env, env_prefix="ASSEMBLY")
    assert record is not None
    assert (record.token, record.endpoint) == (
        OTHER_TOKEN, "https://browser-intake-datadoghq.eu/api/v2/logs",
    )  # fmt: skip


def test_the_environment_adds_destinations_the_author_did_not_list(home: Path) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT and the app's Datadog token configure OTLP and Datadog
    even when the app lists only PostHog (as before, with no argument at all)."""
    env = {
        config.OTLP_ENDPOINT: "http://env:4318",
        "ASSEMBLY_TELEMETRY_DATADOG_CLIENT_TOKEN": OTHER_TOKEN,
    }
    listed = make(home, env, destinations=[PostHog(KEY, host="http://127.0.0.1:9")])
    assert [d.kind for d in listed.destinations()] == ["otlp", "datadog", "posthog"]
    unlisted = make(home, env)
    assert [d.kind for d in unlisted.destinations()] == ["otlp", "datadog"]
    assert [d.kind for d in make(home).destinations()] == ["file"]


def test_ci_policy_local_keeps_every_destination_local(home: Path) -> None:
    """In CI with ``ci_policy="local"`` the listed destinations give way to the file sink."""
    listed = [OTLP("http://127.0.0.1:9"), Datadog(TOKEN)]
    ci = make(home, {"GITHUB_ACTIONS": "true"}, destinations=listed, ci_policy="local")
    assert [d.kind for d in ci.destinations()] == ["file"]
    local = make(home, {}, destinations=listed, ci_policy="local")
    assert [d.kind for d in local.destinations()] == ["otlp", "datadog"]


# --- the list ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://c:4318", "destinations must be a list"),
        (OTLP("http://c:4318"), "destinations must be a list"),
        (["http://c:4318"], r"destinations\[0\] is a str, not a destination"),
        ([OTLP(), {"endpoint": "x"}], r"destinations\[1\] is a dict, not a destination"),
        ([None], r"destinations\[0\] is a NoneType"),
    ],
)
def test_a_list_entry_of_the_wrong_type_is_a_type_error(value: Any, message: str) -> None:
    """``destinations=`` that is not a list of destination objects raises a TypeError naming the bad
    entry."""
    with pytest.raises(TypeError, match=message):
        Telemetry("assembly", destinations=value)


def test_each_kind_appears_once() -> None:
    """Two OTLP destinations in one list are refused."""
    with pytest.raises(ValueError, match="more than one OTLP destination"):
        Telemetry("assembly", destinations=[OTLP("http://a:4318"), OTLP("http://b:4318")])


def test_queue_order_does_not_depend_on_the_listing_order(home: Path) -> None:
    """OTLP, Datadog, PostHog: the first keeps ``spool/`` whatever the author's order; the
    others get a queue named after their kind and identity (``spool-<kind>-<digest>/``)."""
    backwards = [PostHog(KEY), Datadog(TOKEN), OTLP("http://c:4318")]
    records = make(home, destinations=backwards)._resolved_destinations()
    queues = destination.queues(state.Paths(home, home), records)
    assert [(q.queue.split("-")[0], d.kind) for q, d in queues] == [
        ("", "otlp"), ("datadog", "datadog"), ("posthog", "posthog"),
    ]  # fmt: skip
    assert [q.queue for q, _ in queues][1:] == [destination.queue_id(d) for d in records[1:]]


def test_three_destinations_each_get_every_command(
    home: Path, intake: tuple[Intake, str], server: tuple[PostHogServer, str]
) -> None:
    """One command, three local servers (OTLP, Datadog intake, PostHog): ``flush`` delivers
    it to each, once."""
    dd_server, dd_url = intake
    ph_server, ph_host = server
    with OtlpReceiver() as otlp:
        telemetry = make(
            home,
            destinations=[
                PostHog(KEY, host=ph_host), OTLP(otlp.url), Datadog(TOKEN, proxy_url=dd_url),
            ],
        )  # fmt: skip
        with telemetry.command("transcribe"):
            pass
        report = telemetry.flush(timeout=15)
        assert (report.delivered, report.remaining) == (3, 0)
        assert [s.name for s in otlp.spans()] == ["assembly transcribe"]
    assert [log["command"] for log in dd_server.logs] == ["assembly transcribe"]
    assert [e["properties"]["command"] for e in ph_server.events] == ["assembly transcribe"]
    assert dd_server.violations == ph_server.violations == []
    saved = inventory.recorded(state.Paths(home, home))
    assert [d for _, d in saved] == telemetry._resolved_destinations()


# --- secrets -------------------------------------------------------------------------


def test_secrets_stay_out_of_repr_str_and_status(home: Path) -> None:
    """Tokens, keys and header values appear in no repr, str or status line, from the
    objects or from the records they resolve to."""
    secret_header = "Bearer top-secret-value"
    listed = [
        OTLP("http://127.0.0.1:9", headers={"authorization": secret_header}),
        Datadog(TOKEN),
        PostHog(KEY),
    ]
    telemetry = make(
        home, {config.OTLP_HEADERS: "x-env-secret=env-secret-value"}, destinations=listed
    )
    records = telemetry.destinations()
    shown = [repr(d) for d in listed] + [str(d) for d in listed]
    shown += [repr(r) for r in records] + [r.describe() for r in records]
    shown += telemetry.status().lines()
    text = "\n".join(shown)
    for secret in (secret_header, "top-secret", "env-secret-value", TOKEN, KEY):
        assert secret not in text
    assert "OTLP(endpoint='http://127.0.0.1:9', protocol=None, headers=<1 hidden>)" in text
    assert "Datadog(client_token=<hidden>, site=None, proxy_url=None)" in text
    assert "OTLP http/protobuf to http://127.0.0.1:9/v1/traces, 2 header(s)" in text
    assert records[0].headers["authorization"] == secret_header  # hidden, not lost


# --- the on-disk contract ------------------------------------------------------------


def test_records_round_trip_and_are_checked_when_read(home: Path) -> None:
    """``destination.json`` keeps its format: each record reads back equal, and a record
    whose key would be refused by the class is refused when read back too."""
    records = make(home, destinations=[OTLP("http://c:4318"), Datadog(TOKEN), PostHog(KEY)])
    for record in records._resolved_destinations():
        data = record.to_json()
        assert set(data) == set(destination.Destination.__slots__)
        assert destination.Destination.from_json(data) == record
    with pytest.raises(ValueError, match="Datadog API key"):
        destination.Destination.from_json(
            {"kind": "datadog", "endpoint": "https://x/api/v2/logs", "token": API_KEY}
        )
    with pytest.raises(ValueError, match="needs a project API key"):
        destination.Destination.from_json({"kind": "posthog", "endpoint": "https://x/batch/"})


_OFF_PROBE = """
import sys
before = set(sys.modules)
from otel_cli_telemetry import OTLP, Telemetry
t = Telemetry("imp", env_prefix="IMP", destinations=[OTLP("http://127.0.0.1:9")])
with t.command("x") as handle:
    pass
print(repr({"added": sorted(set(sys.modules) - before), "recording": handle.recording}))
"""


def test_an_otlp_destination_costs_one_light_module_when_off(tmp_path: Path) -> None:
    """With an opt-out, an app that names an OTLP destination loads the light entry and the
    destinations module, nothing more (no ``_disk``, no sink, no ``re``)."""
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    report = run_python(_OFF_PROBE, probe_env(sandbox, DO_NOT_TRACK="1"), cwd=tmp_path)
    assert report["recording"] is False
    assert set(report["added"]) == LIGHT_ENTRY - {"otel_cli_telemetry._process.noop"} | {
        "otel_cli_telemetry.destinations"
    }


# --- the default (local file sink) is known without the destination classes -------------

#: Every variable ``config`` names, each with a value a destination would accept.
_ALL_VARIABLES = {
    value.format(prefix="ASSEMBLY"): "http://127.0.0.1:4318"
    for name, value in vars(config).items()
    if name.isupper() and isinstance(value, str) and value.replace("{prefix}", "P").isupper()
}
_ALL_VARIABLES["ASSEMBLY_TELEMETRY_DATADOG_CLIENT_TOKEN"] = TOKEN


def _resolved_without_shortcut(env: dict[str, str]) -> list[Any]:
    from otel_cli_telemetry import destinations

    found = (d.resolve(env, env_prefix="ASSEMBLY") for d in destinations.with_env_defaults(()))
    return [d for d in found if d is not None]


@pytest.mark.parametrize("name", sorted(_ALL_VARIABLES))
def test_only_the_destination_variables_add_a_destination(name: str) -> None:
    """``config.destination_variables`` is exactly the set of variables that, alone, make
    the destination classes resolve something: the shortcut that skips loading them for the
    default sink can never hide a destination the environment configures."""
    env = {name: _ALL_VARIABLES[name]}
    named = name in config.destination_variables("ASSEMBLY")
    assert config.configures_a_destination(env, "ASSEMBLY") is named
    assert bool(_resolved_without_shortcut(env)) is named


def test_the_default_sink_loads_no_destination_class(tmp_path: Path) -> None:
    """A recorded command with no destination listed or configured loads neither
    ``destinations`` nor the OTLP variables' reader (in a fresh interpreter)."""
    code = (
        "import sys\n"
        "from otel_cli_telemetry import Telemetry\n"
        "t = Telemetry('assembly', env={'ASSEMBLY_TELEMETRY_HOME': sys.argv[1]},\n"
        "              spawn=lambda *a, **k: None)\n"
        "with t.command('run'):\n"
        "    pass\n"
        "print([d.kind for d in t.destinations()],\n"
        "      'otel_cli_telemetry.destinations' in sys.modules,\n"
        "      'otel_cli_telemetry._process.otlp_env' in sys.modules)\n"
    )
    report = run_python_text(code, tmp_path)
    assert report == "['file'] False False"


def run_python_text(code: str, tmp_path: Path) -> str:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "home")],
        capture_output=True, text=True, timeout=60, check=True,
        env={k: v for k, v in probe_env(tmp_path).items() if not k.startswith("ASSEMBLY_")},
    )  # fmt: skip
    return done.stdout.strip()


def test_the_on_disk_kind_tags_are_the_classes_kinds() -> None:
    """``destination.json``'s tags (kept literal so the record module needs no class) are
    exactly the public classes' ``kind`` names, plus the local file sink's."""
    from otel_cli_telemetry import destinations

    assert (destination.FILE, *(c.kind for c in destinations.KINDS)) == destination.KINDS
    assert (
        OTLP.kind, Datadog.kind, PostHog.kind,
    ) == (destination.OTLP, destination.DATADOG, destination.POSTHOG)  # fmt: skip
