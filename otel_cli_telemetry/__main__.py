"""``python -m otel_cli_telemetry --service NAME {status,enable,disable,show,flush}``."""

from __future__ import annotations

import sys

from otel_cli_telemetry._admin.cli import main

if __name__ == "__main__":
    sys.exit(main())
