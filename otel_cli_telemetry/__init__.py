"""Respectful usage telemetry and tracing for command-line tools, built on OpenTelemetry.

>>> from otel_cli_telemetry import Telemetry
>>> telemetry = Telemetry("assembly", version="1.2.3", env_prefix="ASSEMBLY")

Importing this package does no work: no OpenTelemetry import, no file, no thread. The public
names are loaded on first use (PEP 562), so ``import otel_cli_telemetry`` loads this module
alone and a disabled run only the light entry (``telemetry``, ``run``, ``consent``,
``config``, ``_record``); nothing from the standard library beyond what the interpreter
loaded at start-up. Each module costs a few hundred microseconds on a slow machine: keep
that list short.
"""

# ``typing.TYPE_CHECKING`` would import ``typing``; type checkers treat this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._admin.status import Status
    from otel_cli_telemetry._disk.consent import Decision
    from otel_cli_telemetry._disk.fs import UnsafeHomeError
    from otel_cli_telemetry._process.command import ExitStatus
    from otel_cli_telemetry._process.run import CommandHandle
    from otel_cli_telemetry._version import __version__
    from otel_cli_telemetry.destinations import OTLP, Datadog, PostHog
    from otel_cli_telemetry.records import (
        Change,
        FlushReport,
        Paths,
        QueueStatus,
        ResolvedDestination,
    )  # fmt: skip
    from otel_cli_telemetry.telemetry import Telemetry

__all__ = [
    "OTLP", "Change", "CommandHandle", "Datadog", "Decision", "ExitStatus", "FlushReport",
    "Paths", "PostHog", "QueueStatus", "ResolvedDestination", "Status", "Telemetry",
    "UnsafeHomeError", "__version__",
]  # fmt: skip


def __getattr__(name: str) -> object:
    value: object
    if name == "Telemetry":
        from otel_cli_telemetry.telemetry import Telemetry

        value = Telemetry
    elif name == "Decision":
        from otel_cli_telemetry._disk.consent import Decision

        value = Decision
    elif name == "CommandHandle":
        from otel_cli_telemetry._process.run import CommandHandle

        value = CommandHandle
    elif name == "ExitStatus":
        from otel_cli_telemetry._process.command import ExitStatus

        value = ExitStatus
    elif name in ("FlushReport", "Change", "Paths", "QueueStatus", "ResolvedDestination"):
        from otel_cli_telemetry import records

        value = getattr(records, name)
    elif name == "UnsafeHomeError":
        from otel_cli_telemetry._disk.fs import UnsafeHomeError

        value = UnsafeHomeError
    elif name in ("OTLP", "Datadog", "PostHog"):
        from otel_cli_telemetry import destinations

        value = getattr(destinations, name)
    elif name == "Status":
        from otel_cli_telemetry._admin.status import Status

        value = Status
    elif name == "__version__":
        from otel_cli_telemetry._version import __version__

        value = __version__
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
