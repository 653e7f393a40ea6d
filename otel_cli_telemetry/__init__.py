"""Respectful usage telemetry and tracing for command-line tools, built on OpenTelemetry.

>>> from otel_cli_telemetry import Telemetry
>>> telemetry = Telemetry("assembly", version="1.2.3", env_prefix="ASSEMBLY")

Importing this package does no work: no OpenTelemetry import, no file, no thread.
"""

from __future__ import annotations

from ._version import __version__
from .command import Exit
from .consent import Decision
from .run import CommandHandle
from .status import Status
from .telemetry import Telemetry

__all__ = ["CommandHandle", "Decision", "Exit", "Status", "Telemetry", "__version__"]
