"""OTLP exporter configuration, read per the specification."""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_cli_telemetry._disk import destination, state, toml
from otel_cli_telemetry._process import config
from otel_cli_telemetry.destinations import OTLP
from otel_cli_telemetry.telemetry import Telemetry


def test_no_endpoint_means_local_file_sink() -> None:
    """With nothing configured, the embedded default is the local file sink."""
    assert OTLP().resolve({}) is None
    [only] = Telemetry("x", env={}, spawn=lambda *a, **k: None).destinations()
    assert only.kind == destination.FILE


def test_generic_endpoint_is_a_base_url() -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT gets v1/traces appended, with or without a slash."""
    for base in ("http://collector:4318", "http://collector:4318/"):
        settings = OTLP().resolve({config.OTLP_ENDPOINT: base})
        assert settings is not None
        assert settings.endpoint == "http://collector:4318/v1/traces"


def test_traces_endpoint_is_used_as_is() -> None:
    """The signal-specific endpoint wins and is not modified."""
    settings = OTLP().resolve(
        {config.OTLP_ENDPOINT: "http://a:4318", config.OTLP_TRACES_ENDPOINT: "https://b/custom"}
    )
    assert settings is not None
    assert settings.endpoint == "https://b/custom"


def test_author_endpoint_beats_environment() -> None:
    """An explicit endpoint= argument takes precedence over OTEL_*."""
    settings = OTLP(endpoint="http://author:4318").resolve(
        {config.OTLP_ENDPOINT: "http://env:4318"}
    )
    assert settings is not None
    assert settings.endpoint == "http://author:4318/v1/traces"


def test_protocol_default_and_fallback() -> None:
    """http/protobuf by default; an unsupported protocol is not replaced by another: the
    destination is marked unusable (tests/test_limits_and_urls.py; grpc: test_grpc)."""
    env = {config.OTLP_ENDPOINT: "http://c:4318"}
    assert OTLP().resolve(env).protocol == "http/protobuf"  # type: ignore[union-attr]
    env[config.OTLP_PROTOCOL] = "http/json"
    assert OTLP().resolve(env).protocol == "http/json"  # type: ignore[union-attr]
    env[config.OTLP_TRACES_PROTOCOL] = "http/xml"
    unusable = OTLP().resolve(env)
    assert unusable is not None
    assert unusable.protocol == "http/xml"
    assert unusable.problem is not None


def test_headers_parsed_and_percent_decoded() -> None:
    """k=v pairs, keys and values percent-decoded; malformed entries skipped."""
    settings = OTLP().resolve(
        {
            config.OTLP_ENDPOINT: "http://c:4318",
            config.OTLP_HEADERS: "api%2Dkey=abc%20def, X-Team=cli ,broken,=novalue",
        }
    )
    assert settings is not None
    assert settings.headers == {"api-key": "abc def", "x-team": "cli"}


def test_traces_headers_replace_the_generic_ones() -> None:
    """The signal-specific variable replaces the generic one whole (spec), not per key."""
    settings = OTLP().resolve(
        {
            config.OTLP_ENDPOINT: "http://c:4318",
            config.OTLP_HEADERS: "api-key=generic,x-team=cli",
            config.OTLP_TRACES_HEADERS: "x-team=traces",
        }
    )
    assert settings is not None
    assert settings.headers == {"x-team": "traces"}


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("2500", 2.5),
        ("10000", 10.0),
        ("0", config.NO_TIMEOUT_S),
        ("-5", 10.0),
        ("soon", 10.0),
        ("nan", 10.0),
    ],
)
def test_timeout_is_milliseconds(raw: str, seconds: float) -> None:
    """Per the spec the timeout is milliseconds and 0 means no limit (the export deadline
    still bounds it); bad values fall back to 10 s."""
    settings = OTLP().resolve({config.OTLP_ENDPOINT: "http://c:4318", config.OTLP_TIMEOUT: raw})
    assert settings is not None
    assert settings.timeout_s == seconds


def test_compression() -> None:
    """gzip is supported; none and unknown values mean no compression."""
    env = {config.OTLP_ENDPOINT: "http://c:4318", config.OTLP_COMPRESSION: "gzip"}
    assert OTLP().resolve(env).compression == "gzip"  # type: ignore[union-attr]
    env[config.OTLP_TRACES_COMPRESSION] = "zstd"
    assert OTLP().resolve(env).compression is None  # type: ignore[union-attr]


def test_non_http_endpoint_is_refused() -> None:
    """A gRPC-style or garbage endpoint for http/protobuf is never sent to: the destination
    is marked unusable (its traces wait), never replaced (tests/test_limits_and_urls.py)."""
    dest = OTLP().resolve({config.OTLP_ENDPOINT: "collector:4317"})
    assert dest is not None
    assert dest.problem is not None


def test_destination_round_trip_and_validation() -> None:
    """destination.json is validated when read back; bad content falls back to the file sink."""
    dest = OTLP().resolve(
        {config.OTLP_ENDPOINT: "http://c:4318", config.OTLP_HEADERS: "k=v"}, deadline_s=3
    )
    assert dest is not None
    assert destination.Destination.from_json(dest.to_json()) == dest
    assert "k=v" not in dest.describe()
    with pytest.raises(ValueError, match="endpoint"):
        destination.Destination.from_json({"kind": "otlp", "endpoint": "file:///etc/passwd"})
    with pytest.raises(ValueError, match="kind"):
        destination.Destination.from_json({"kind": "shell"})


def test_env_prefix_default() -> None:
    """The default variable prefix is the upper-cased service name with non-alphanumerics as
    underscores, ``APP`` when nothing is left."""
    assert config.env_prefix_for("my-cli.tool") == "MY_CLI_TOOL"
    assert config.env_prefix_for("---") == "APP"


def test_flag_reads_unknown_words_as_true() -> None:
    """An unrecognised value errs towards the user who set it."""
    assert config.flag({"X": "please"}, "X") is True
    assert config.flag({"X": "off"}, "X") is False
    assert config.flag({"X": ""}, "X") is None


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="the XDG rule is for Linux/BSD")
@pytest.mark.parametrize(
    "env",
    [
        {},
        {"XDG_STATE_HOME": "/srv/state", "XDG_CONFIG_HOME": "/srv/config"},
        {"XDG_STATE_HOME": "relative/state", "XDG_CONFIG_HOME": ""},
        {"XDG_STATE_HOME": "   ", "HOME": "/home/someone"},
    ],
)
def test_default_directories_equal_platformdirs(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    """Our cheap XDG rule gives exactly what platformdirs gives, for every shape of env."""
    import platformdirs

    from otel_cli_telemetry._disk import state

    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    expected = (
        platformdirs.user_state_dir("some-app", appauthor=False),
        platformdirs.user_config_dir("some-app", appauthor=False),
    )
    assert state.user_dirs("some-app", dict(os.environ)) == expected


# --- config.toml: the standard TOML parser, and every value round-trips -------------


_utf8_text = st.text(st.characters(exclude_categories=("Cs",)))
_config_values = st.dictionaries(
    _utf8_text,
    st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), _utf8_text),
    max_size=5,
)


@settings(max_examples=80, deadline=None)
@given(values=_config_values)
def test_config_file_round_trips_any_value(
    tmp_path_factory: pytest.TempPathFactory, values: dict[str, object]
) -> None:
    """Whatever we write, tomllib reads back equal: escapes, quotes, control characters,
    DEL, non-ASCII and odd keys included."""
    home = tmp_path_factory.mktemp("cfg")
    home.chmod(0o700)
    path = home / "config.toml"
    toml.write(path, values)  # type: ignore[arg-type]
    assert state.read_config(path) == values
    assert state.config_problem(path) is None


def test_config_file_written_by_hand_is_read_as_toml(tmp_path: os.PathLike[str]) -> None:
    """A hand-edited file: TOML escapes are unescaped, literal strings and comments work,
    what is not ours is skipped; invalid TOML is read line by line, so a typo never undoes
    a persisted choice, and the reason is kept."""
    from pathlib import Path

    home = Path(tmp_path) / "home"
    home.mkdir(mode=0o700)
    path = home / "config.toml"
    path.write_text(
        'enabled = false  # off\nmode = "caf\\u00e9 \\"x\\""\npath = \'C:\\dir\'\n'
        "ratio = 0.5\n[table]\nk = 1\n",
        encoding="utf-8",
    )
    assert state.read_config(path) == {"enabled": False, "mode": 'café "x"', "path": "C:\\dir"}
    path.write_text('enabled = false\nnoise\nmode = "a\\tb"\n[t]\nx = 1\n', encoding="utf-8")
    assert state.read_config(path) == {"enabled": False, "mode": "a\tb"}
    assert state.config_problem(path) == "not valid TOML; read line by line"


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="the XDG rule is for Linux/BSD")
@pytest.mark.parametrize("home", ["relative-home", ""])
def test_a_relative_home_never_makes_a_relative_state_dir(
    monkeypatch: pytest.MonkeyPatch, home: str
) -> None:
    """A relative or empty HOME is replaced by the account's home (platformdirs versions
    differ here: older ones returned the relative path), so the dirs are always absolute."""
    from otel_cli_telemetry._disk import state

    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", home)
    state_dir, config_dir = state.user_dirs("some-app", dict(os.environ))
    assert os.path.isabs(state_dir)
    assert os.path.isabs(config_dir)
    assert state_dir.endswith(os.path.join(".local", "state", "some-app"))
