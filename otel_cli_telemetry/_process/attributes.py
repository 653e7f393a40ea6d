"""The attributes we send, and nothing else.

Resource (once per process): who and where, never what. Span: how the command ended.
No argument or option value, path, working directory, environment value, hostname or
user name is ever read into an attribute. CI is detected from the *presence* of each
provider's marker variable; its value is not read.
"""

import os
import sys

from otel_cli_telemetry._disk import contract
from otel_cli_telemetry._process import config
from otel_cli_telemetry._version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final

# Our own namespace, for what the semantic conventions have no name for.
OUTCOME: "Final" = "cli_telemetry.outcome"
DURATION_MS: "Final" = "cli_telemetry.duration_ms"
CI_DETECTED: "Final" = "cli_telemetry.ci.detected"
CI_PROVIDER: "Final" = "cli_telemetry.ci.provider"
DROPPED_TRACES: "Final" = contract.DROPPED_TRACES
DROPPED_REASONS: "Final" = contract.DROPPED_REASONS
DROPPED_SPANS: "Final" = contract.DROPPED_SPANS
SAMPLE_RATE: "Final" = "cli_telemetry.sample_rate"
STARTUP_MS: "Final" = "cli_telemetry.startup_ms"
CRASH_FRAMES: "Final" = "cli_telemetry.crash.frames"

SCOPE_NAME: "Final" = "otel_cli_telemetry"
SCOPE_VERSION: "Final" = __version__

# --- every attribute we send, by name: ``fields`` says what each holds (``telemetry
# disclosure``, the README), and tests/test_disclosure.py proves the code sends no other.
EXECUTABLE_NAME: "Final" = "process.executable.name"
PID: "Final" = "process.pid"
EXIT_CODE: "Final" = contract.EXIT_CODE
ERROR_TYPE: "Final" = "error.type"
OPTIONS: "Final" = "cli_telemetry.options"
SERVICE_NAME: "Final" = "service.name"
SERVICE_VERSION: "Final" = "service.version"
SDK_NAME: "Final" = "telemetry.sdk.name"
SDK_LANGUAGE: "Final" = "telemetry.sdk.language"
SDK_VERSION: "Final" = "telemetry.sdk.version"
OS_TYPE: "Final" = "os.type"
OS_VERSION: "Final" = "os.version"
HOST_ARCH: "Final" = "host.arch"
RUNTIME_NAME: "Final" = "process.runtime.name"
RUNTIME_VERSION: "Final" = "process.runtime.version"
INTERACTIVE: "Final" = "process.interactive"
INSTALLATION_ID: "Final" = "app.installation.id"
USER_ID: "Final" = "user.id"

# semantic-conventions registry: host.arch well-known values
_ARCH: "Final" = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "x64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8l": "arm64",
    "armv7l": "arm32",
    "armv6l": "arm32",
    "arm": "arm32",
    "i386": "x86",
    "i486": "x86",
    "i586": "x86",
    "i686": "x86",
    "x86": "x86",
    "ia64": "ia64",
    "ppc": "ppc32",
    "ppc64": "ppc64",
    "ppc64le": "ppc64",
    "s390x": "s390x",
}

# semantic-conventions registry: os.type well-known values, keyed by sys.platform prefix
_OS: "Final" = (
    ("linux", "linux"),
    ("darwin", "darwin"),
    ("win32", "windows"),
    ("cygwin", "windows"),
    ("freebsd", "freebsd"),
    ("netbsd", "netbsd"),
    ("openbsd", "openbsd"),
    ("dragonfly", "dragonflybsd"),
    ("aix", "aix"),
    ("sunos", "solaris"),
    ("zos", "zos"),  # ``z_os`` is the deprecated spelling
)

# (marker variable, provider): presence is enough, the value is never read.
_CI: "Final" = (
    ("GITHUB_ACTIONS", "github_actions"),
    ("GITLAB_CI", "gitlab_ci"),
    ("CIRCLECI", "circleci"),
    ("TF_BUILD", "azure_pipelines"),
    ("BUILDKITE", "buildkite"),
    ("JENKINS_URL", "jenkins"),
    ("TEAMCITY_VERSION", "teamcity"),
    ("BITBUCKET_BUILD_NUMBER", "bitbucket_pipelines"),
    ("CODEBUILD_BUILD_ID", "aws_codebuild"),
    ("TRAVIS", "travis"),
    ("APPVEYOR", "appveyor"),
    ("DRONE", "drone"),
    ("SEMAPHORE", "semaphore"),
    ("CIRRUS_CI", "cirrus_ci"),
    ("BUILD_ID_GOOGLE_CLOUD_BUILD", "google_cloud_build"),
    ("HEROKU_TEST_RUN_ID", "heroku_ci"),
    ("WOODPECKER", "woodpecker"),
)


def _uname_field(index: int) -> str:
    """``os.uname()`` (what ``platform`` reads, without importing it) where it exists."""
    uname = getattr(os, "uname", None)
    return str(uname()[index]) if uname is not None else ""


def host_arch(machine: str | None = None) -> str:
    if machine is None:
        machine = _uname_field(4)
        if not machine:
            import platform  # Windows

            machine = platform.machine()
    raw = machine.lower()
    return _ARCH.get(raw, raw or "unknown")


def os_type(platform_name: str | None = None) -> str:
    name = platform_name if platform_name is not None else sys.platform
    for prefix, value in _OS:
        if name.startswith(prefix):
            return value
    return name


def os_version() -> str:
    if sys.platform in ("darwin", "win32"):
        import platform  # reads the product version, which uname does not have

        if sys.platform == "darwin":
            return platform.mac_ver()[0] or platform.release()
        return platform.version()  # type: ignore[unreachable,unused-ignore]
    return _uname_field(2)  # type: ignore[unreachable,unused-ignore]


def python_version() -> str:
    """``platform.python_version()`` without the import: ``3.12.1``, ``3.13.0rc1``."""
    return sys.version.split(" ", 1)[0].rstrip("+")


def sdk_version(cache_file: str | None = None) -> str:
    """``telemetry.sdk.version``: the OpenTelemetry SDK's version, the same on the light and
    the SDK path.

    Knowing it costs three module imports (a third of a millisecond); with ``cache_file``
    (``sdk.json`` in the state dir) that is paid once: the version is kept with the file it
    came from, that file's modification time, and the interpreter and module path (the
    entry point's directory aside) that found it. Any of them changing (an upgrade,
    another virtual environment) imports again.
    """
    if cache_file is None:
        from opentelemetry.sdk.version import __version__

        return str(__version__)
    from otel_cli_telemetry._disk import state

    # Not sys.path[0], the entry point's directory: a console script and ``python -m`` of
    # the same app would otherwise overwrite each other's cache on every command.
    # Import skips entries that are not strings (``sys.path.append(Path(...))``): so do we.
    key = [sys.executable, os.pathsep.join(p for p in sys.path[1:] if isinstance(p, str))]
    try:
        cached = state.read_json(cache_file) or {}
        file, version = cached.get("file"), cached.get("version")
        if (
            isinstance(file, str)
            and cached.get("key") == key
            and _is_version(version)
            and os.stat(file).st_mtime_ns == cached.get("mtime_ns")
        ):
            return str(version)
    except Exception:  # noqa: BLE001, S110 - any bad shape: import, and write it afresh
        pass
    from opentelemetry.sdk import version as module

    version = str(module.__version__)
    if _is_version(version):
        file = os.path.abspath(str(module.__file__))
        record: dict[str, object] = {"key": key, "version": version, "file": file}
        try:
            record["mtime_ns"] = os.stat(file).st_mtime_ns
            state.write_json(cache_file, record)
        except Exception:  # noqa: BLE001, S110 - the next command imports again
            pass
    return version


_VERSION_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+-_!")


def _is_version(value: object) -> bool:
    """A version string as packaging writes them (``1.38.0``, ``1.39.0.dev0+local``):
    what the cache may hand to a span, nothing else."""
    return isinstance(value, str) and 0 < len(value) <= 64 and set(value) <= _VERSION_CHARS


def ci_provider(env: "Mapping[str, str]") -> str | None:
    """Which CI runs us, from the presence of a marker variable; None outside CI."""
    for marker, provider in _CI:
        if config.get(env, marker) is not None:
            return provider
    ci = config.flag(env, "CI")
    return "generic" if ci else None


def _isatty(stream: object) -> bool:
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def interactive() -> bool:
    return _isatty(sys.stdin) and _isatty(sys.stdout)


def executable_name(service_name: str) -> str:
    """The program's base name (never its path), e.g. ``assembly``.

    ``sys.argv[0]`` is the entry-point script users type; for ``python -c`` or an
    embedded interpreter it is useless, and the service name stands in.
    """
    argv0 = sys.argv[0] if sys.argv else ""
    base = os.path.basename(argv0)
    if not base or base.startswith("-") or base == "__main__.py":
        return service_name
    return base


def resource_attributes(
    service_name: str,
    service_version: str | None,
    installation_id: str | None,
    env: "Mapping[str, str]",
    sdk_version: str,
) -> dict[str, str | bool]:
    """The resource of every span this process sends.

    ``OTEL_RESOURCE_ATTRIBUTES`` adds attributes (the operator asked for them) but does
    not replace the detected ones. ``service.name``, as the spec orders it:
    ``OTEL_SERVICE_NAME`` > ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES`` > the name
    given to ``Telemetry("name")``. That name is the app's identity (its state directory,
    variable prefix and span names) and the *default* service name, not a resource set in
    code: an operator routing many CLIs through one collector can still rename it.
    """
    attrs: dict[str, str | bool] = {}
    extra: dict[str, str] = {}
    raw_extra = config.get(env, config.OTEL_RESOURCE_ATTRIBUTES)
    if raw_extra:
        extra = config.parse_resource_attributes(raw_extra)
        attrs.update(extra)
    attrs.update(
        {
            "service.name": service_name,
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.language": "python",
            "telemetry.sdk.version": sdk_version,
            "os.type": os_type(),
            "os.version": os_version(),
            "host.arch": host_arch(),
            "process.runtime.name": sys.implementation.name,
            "process.runtime.version": python_version(),
            "process.interactive": interactive(),
        }
    )
    if service_version:
        attrs["service.version"] = service_version
    override = config.get(env, config.OTEL_SERVICE_NAME) or extra.get("service.name")
    if override:
        attrs["service.name"] = override
    if installation_id:
        attrs["app.installation.id"] = installation_id
    provider = ci_provider(env)
    attrs[CI_DETECTED] = provider is not None
    if provider is not None:
        attrs[CI_PROVIDER] = provider
    return attrs


def __getattr__(name: str) -> "Any":
    """``clean_user_attributes`` and its limits, from ``user_attributes``: loaded only when
    an author adds an attribute."""
    from otel_cli_telemetry._process import user_attributes

    return getattr(user_attributes, name)
