"""Resource attributes: semconv values, CI detection, and nothing personal."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from otel_cli_telemetry._process import attributes


@pytest.mark.parametrize(
    ("machine", "arch"),
    [
        ("x86_64", "amd64"),
        ("AMD64", "amd64"),
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("armv7l", "arm32"),
        ("i686", "x86"),
        ("ppc64le", "ppc64"),
        ("s390x", "s390x"),
        ("riscv64", "riscv64"),
    ],
)
def test_host_arch_uses_semconv_values(machine: str, arch: str) -> None:
    """``host.arch`` maps each platform.machine() spelling to its semantic-conventions value."""
    assert attributes.host_arch(machine) == arch


@pytest.mark.parametrize(
    ("platform_name", "os_type"),
    [("linux", "linux"), ("darwin", "darwin"), ("win32", "windows"), ("freebsd14", "freebsd")],
)
def test_os_type(platform_name: str, os_type: str) -> None:
    """``os.type`` maps each sys.platform value to its semantic-conventions name."""
    assert attributes.os_type(platform_name) == os_type


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        ({}, None),
        ({"GITHUB_ACTIONS": "true"}, "github_actions"),
        ({"GITLAB_CI": "true", "CI": "true"}, "gitlab_ci"),
        ({"TF_BUILD": "True"}, "azure_pipelines"),
        ({"CI": "true"}, "generic"),
        ({"CI": "false"}, None),
        ({"GITHUB_ACTIONS": ""}, None),
    ],
)
def test_ci_provider(env: dict[str, str], provider: str | None) -> None:
    """The CI provider is read from its marker variable, ``CI=true`` alone is generic, and false or
    empty markers mean no CI."""
    assert attributes.ci_provider(env) == provider


def test_resource_has_required_fields_and_nothing_personal(tmp_path: object) -> None:
    """service.*, os.*, host.arch, runtime and the install id; no host, user or cwd."""
    env = {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghp_secretvalue"}
    attrs = attributes.resource_attributes("assembly", "1.2.3", "0000-id", env, "1.0")
    for key in (
        "service.name",
        "service.version",
        "os.type",
        "os.version",
        "host.arch",
        "process.runtime.name",
        "process.runtime.version",
        "telemetry.sdk.name",
        "telemetry.sdk.language",
        "telemetry.sdk.version",
        "app.installation.id",
        "process.interactive",
    ):
        assert key in attrs, key
    assert attrs["cli_telemetry.ci.provider"] == "github_actions"
    values = " ".join(str(v) for v in attrs.values())
    for private in (socket.gethostname(), getpass.getuser(), os.getcwd(), "ghp_secretvalue"):
        assert private not in values


def test_otel_service_name_and_resource_attributes() -> None:
    """OTEL_SERVICE_NAME replaces service.name; OTEL_RESOURCE_ATTRIBUTES adds, never replaces."""
    env = {
        "OTEL_SERVICE_NAME": "renamed",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci,os.type=evil,team=a%2Cb",
    }
    attrs = attributes.resource_attributes("assembly", None, None, env, "1.0")
    assert attrs["service.name"] == "renamed"
    assert attrs["deployment.environment"] == "ci"
    assert attrs["team"] == "a,b"
    assert attrs["os.type"] != "evil"


# --- telemetry.sdk.version, cached in the state dir -----------------------------------

_SDK_PROBE = (
    "import sys\n"
    "from otel_cli_telemetry._process import attributes\n"
    "version = attributes.sdk_version(sys.argv[1])\n"
    "print(version, any(m.startswith('opentelemetry') for m in sys.modules))\n"
)


def _probe(cache: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _SDK_PROBE, str(cache)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.split()


def test_sdk_version_is_imported_once_then_read_from_the_cache(tmp_path: Path) -> None:
    """The first command imports the SDK's version module and writes ``sdk.json``; the next
    one (same interpreter and module path) reads it and imports nothing of OpenTelemetry."""
    from opentelemetry.sdk.version import __version__

    cache = tmp_path / "sdk.json"
    assert _probe(cache) == [__version__, "True"]
    record = json.loads(cache.read_text())
    assert record["version"] == __version__
    assert record["file"].endswith(os.path.join("opentelemetry", "sdk", "version", "__init__.py"))
    assert _probe(cache) == [__version__, "False"]


def test_the_cache_serves_every_entry_point_of_the_app(tmp_path: Path) -> None:
    """A script elsewhere (another ``sys.path[0]``) reads what ``python -c`` cached."""
    from opentelemetry.sdk.version import __version__

    cache = tmp_path / "sdk.json"
    assert _probe(cache) == [__version__, "True"]
    script = tmp_path / "bin" / "app.py"
    script.parent.mkdir()
    script.write_text(_SDK_PROBE)
    done = subprocess.run(
        [sys.executable, str(script), str(cache)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.split() == [__version__, "False"]


def _cached(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    cache = tmp_path / "sdk.json"
    _probe(cache)  # in a subprocess, as the probes below: the same sys.path
    return cache, json.loads(cache.read_text())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mtime_ns", 1),  # the SDK was upgraded (its version file changed)
        ("key", ["/another/python", "/another/venv/site-packages"]),  # another environment
        ("version", "1.0<script>"),  # not a version: never handed to a span
        ("version", "9" * 65),
        ("file", "/no/such/file.py"),
    ],
)
def test_a_stale_or_strange_cache_is_not_believed(
    tmp_path: Path, field: str, value: object
) -> None:
    """A cached SDK version whose file changed, environment differs or value is not a version is
    ignored: the real version is used and the cache rewritten."""
    from opentelemetry.sdk.version import __version__

    cache, record = _cached(tmp_path)
    cache.write_text(json.dumps({**record, field: value}))
    assert _probe(cache) == [__version__, "True"]
    assert json.loads(cache.read_text()) == record  # written afresh


@pytest.mark.parametrize("kind", ["garbage", "fifo", "link", "directory"])
def test_a_bad_cache_file_costs_an_import_never_a_hang(tmp_path: Path, kind: str) -> None:
    """A garbage, FIFO, symlinked or directory SDK-version cache yields the real version without
    hanging, and a link's target is never written."""
    from opentelemetry.sdk.version import __version__

    cache = tmp_path / "sdk.json"
    if kind == "garbage":
        cache.write_bytes(b"\xff{not json")
    elif kind == "fifo":
        os.mkfifo(cache)
    elif kind == "link":
        (tmp_path / "elsewhere.json").write_text('{"version": "6.6.6"}')
        cache.symlink_to(tmp_path / "elsewhere.json")
    else:
        cache.mkdir()
    assert attributes.sdk_version(str(cache)) == __version__
    if kind == "link":
        assert json.loads((tmp_path / "elsewhere.json").read_text()) == {"version": "6.6.6"}


def test_the_command_path_caches_the_sdk_version_in_its_state_dir(tmp_path: Path) -> None:
    """Through ``Telemetry``: the first recorded command leaves ``sdk.json`` in the state
    dir; debug and the test kit's capture (which write nothing) do not."""
    from otel_cli_telemetry import Telemetry
    from otel_cli_telemetry.testing import capture_spans

    home = tmp_path / "home"
    telemetry = Telemetry("cached", home=home, env={}, spawn=lambda *a, **k: None)
    with capture_spans(), telemetry.command("a"):
        pass
    assert not (home / "sdk.json").exists()
    with Telemetry("cached", home=home, env={}, spawn=lambda *a, **k: None).command("b"):
        pass  # a new object: the first one's resource is computed once
    assert json.loads((home / "sdk.json").read_text())["version"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: {k: v for k, v in r.items() if k != "file"},  # a field missing
        lambda r: {**r, "file": 42},  # a field of the wrong type
        lambda r: {**r, "mtime_ns": "soon"},
        lambda r: {**r, "key": None},
    ],
)
def test_a_cache_of_the_wrong_shape_is_replaced_not_fatal(
    tmp_path: Path, damage: Callable[[dict[str, object]], dict[str, object]]
) -> None:
    """Whatever shape ``sdk.json`` has, the version comes from the SDK and the file is
    written afresh (a bad shape once made every later command lose its span)."""
    from opentelemetry.sdk.version import __version__

    cache, record = _cached(tmp_path)
    cache.write_text(json.dumps(damage(record)))
    assert _probe(cache) == [__version__, "True"]
    assert json.loads(cache.read_text()) == record


def test_a_path_entry_that_is_not_a_string_is_skipped_as_import_skips_it(tmp_path: Path) -> None:
    """``sys.path.append(Path(...))`` is legal (import ignores it): the cache key skips it
    instead of raising."""
    from opentelemetry.sdk.version import __version__

    cache = tmp_path / "sdk.json"
    probe = _SDK_PROBE.replace(
        "import sys\n", "import sys, pathlib\nsys.path.append(pathlib.Path('/nowhere'))\n"
    )
    for imported in ("True", "False"):
        done = subprocess.run(
            [sys.executable, "-c", probe, str(cache)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert done.stdout.split() == [__version__, imported]
