"""The main job, end to end: run a command of the example CLI, let its detached exporter
deliver the span to the embedded default destination (a local file), then show it.

    python examples/demo.py

No collector is needed. State lives in ./.demo-home so your own home is untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOME = HERE.parent / ".demo-home"


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    print(f"$ {' '.join(args)}", flush=True)
    result = subprocess.run(args, env=env, text=True, check=False, capture_output=True)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    print(f"(exit code {result.returncode})\n", flush=True)
    return result


def main() -> int:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k not in ("DO_NOT_TRACK", "ASSEMBLY_TELEMETRY_DISABLED")
    }
    env["ASSEMBLY_TELEMETRY_HOME"] = str(HOME)
    cli = [sys.executable, str(HERE / "typer_cli.py")]
    first = run(*cli, "transcribe", "meeting.wav", "--language", "fr", env=env)
    run(*cli, "fail", "--code", "3", env=env)
    # The CLI returned at once; its exporter child works in the background. `flush`
    # waits for it (and delivers anything still spooled) so the demo can show the result.
    run(*cli, "telemetry", "flush", env=env)
    shown = run(*cli, "telemetry", "show", "--limit", "4", env=env)
    run(*cli, "telemetry", "status", env=env)
    ok = first.returncode == 0 and "assembly transcribe" in shown.stdout
    print("demo:", "OK, the span was delivered to the local file sink" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
