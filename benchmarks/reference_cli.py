"""A small typer CLI that ``bench_cli.py`` starts again and again: ``python reference_cli.py run``.

It imports typer, httpx and rich, as real CLIs do, and its one command does trivial work.
``BENCH_MODE`` picks how (or whether) it is instrumented:

==============  ===========================================================================
``bare``        no telemetry code at all (``otel_cli_telemetry`` is not even imported)
``disabled``    ``Telemetry`` + ``telemetry.command("run")``; the benchmark sets ``DO_NOT_TRACK=1``
``enabled``     the same code, telemetry on; the benchmark sets ``OTEL_EXPORTER_OTLP_ENDPOINT``
``enabled_file``  the same code, no endpoint: the embedded default local file sink
``sdk_only``    the OpenTelemetry SDK alone: a ``TracerProvider`` and one span, no exporter
``standard``    what a typical author writes: ``BatchSpanProcessor(OTLPSpanExporter(...))``
                and ``provider.shutdown()`` at exit
==============  ===========================================================================

If ``BENCH_PROBE_FILE`` is set, the time spent inside telemetry code (imports, setup,
entering and leaving the command span, shutdown) is written there as JSON at exit, so the
benchmark can separate it from interpreter start-up noise. Nothing is ever printed on stderr.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import typer
from rich.console import Console

MODES = ("bare", "disabled", "enabled", "enabled_file", "sdk_only", "standard")
SERVICE = "benchcli"


class Probe:
    """Accumulates the wall time spent inside ``with PROBE:`` blocks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.seconds += time.perf_counter() - self._started

    def report(self, mode: str) -> None:
        target = os.environ.get("BENCH_PROBE_FILE")
        if target:
            record = {"mode": mode, "telemetry_ms": self.seconds * 1000.0}
            Path(target).write_text(json.dumps(record), encoding="utf-8")


def _no_span(name: str) -> AbstractContextManager[Any]:
    return nullcontext()


def _nothing() -> None:
    return None


@dataclass
class Instrumentation:
    """How a mode wraps the command, and what it does at exit."""

    command: Callable[[str], AbstractContextManager[Any]] = _no_span
    shutdown: Callable[[], None] = _nothing


def instrument(mode: str) -> Instrumentation:
    if mode == "bare":
        return Instrumentation()
    if mode in ("disabled", "enabled", "enabled_file"):
        from otel_cli_telemetry import Telemetry

        telemetry = Telemetry(SERVICE, version="1.0.0", env_prefix="BENCHCLI")
        return Instrumentation(command=telemetry.command)
    if mode == "sdk_only":
        from opentelemetry.sdk.trace import TracerProvider

        provider = TracerProvider(shutdown_on_exit=False)
        tracer = provider.get_tracer(SERVICE)
        return Instrumentation(
            command=lambda name: tracer.start_as_current_span(f"{SERVICE} {name}"),
            shutdown=provider.shutdown,
        )
    if mode == "standard":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
        exporter = OTLPSpanExporter(endpoint=base.rstrip("/") + "/v1/traces")
        provider = TracerProvider(
            resource=Resource.create({"service.name": SERVICE}), shutdown_on_exit=False
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracer = provider.get_tracer(SERVICE)
        return Instrumentation(
            command=lambda name: tracer.start_as_current_span(f"{SERVICE} {name}"),
            shutdown=provider.shutdown,
        )
    raise SystemExit(f"BENCH_MODE must be one of {', '.join(MODES)}, not {mode!r}")


MODE = os.environ.get("BENCH_MODE", "bare")
PROBE = Probe()
with PROBE:
    INSTRUMENTATION = instrument(MODE)

app = typer.Typer(add_completion=False, help="Reference CLI for the otel_cli_telemetry benchmark.")
console = Console()


@app.callback()
def main_options() -> None:
    """Reference CLI for the otel_cli_telemetry benchmark."""


@app.command()
def run(count: int = 1000) -> None:
    """Trivial work: add up some squares and print the total."""
    with ExitStack() as span:
        with PROBE:
            span.enter_context(INSTRUMENTATION.command("run"))
        total = sum(i * i for i in range(count))
        url = httpx.URL("https://api.example.invalid/v1/jobs", params={"n": count})
        with PROBE:
            span.close()
    console.print(f"[bold]total[/bold] = {total} ({url.host})")


def main() -> None:
    try:
        app()
    finally:
        with PROBE:
            INSTRUMENTATION.shutdown()
        PROBE.report(MODE)


if __name__ == "__main__":
    main()
