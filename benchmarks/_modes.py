"""What each ``BENCH_MODE`` does around one command; shared by ``lean_cli.py`` and ``typer_cli.py``.

Both CLIs import this module in every mode, ``bare`` included, so loading it is the same small
constant everywhere: it imports nothing Python has not loaded at start-up. In a CLI:

    with command("run") as work, work("work"):
        ...  # ``work`` opens a child span in enabled_child_span, and does nothing otherwise
"""

import os
import sys
import time

MODE = os.environ.get("BENCH_MODE", "bare")
LIBRARY_MODES = ["disabled", "enabled_file", "enabled_otlp", "enabled_child_span"]
MODES = ["bare", *LIBRARY_MODES, "seeds", "standard"]
SERVICE, VERSION, ENV_PREFIX = "benchcli", "1.0.0", "BENCHCLI"
SEEDS_MARKER = "bench-seeds-sender"
#: ``BENCH_DESTINATION``: the library's modes list ``Datadog(...)`` or ``PostHog(...)``
#: (sent to ``BENCH_INTAKE_URL``, a loopback receiver) instead of the default destinations.
DESTINATION = os.environ.get("BENCH_DESTINATION", "")
DATADOG_TOKEN = "pub" + "0123456789abcdef" * 2
POSTHOG_KEY = "phc_benchmark" + "0123456789" * 2
#: The seeds' detached child: read the event on stdin, POST it once with urllib, exit.
SEEDS_SENDER = f"""# {SEEDS_MARKER}
import os, sys, urllib.request
url = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/events"
body, headers = sys.stdin.buffer.read(), {{"Content-Type": "application/json"}}
urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=10).close()
"""


class Nothing:
    """A context manager, and a factory of itself, that does nothing."""

    def __enter__(self) -> "Nothing":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, name: str) -> "Nothing":
        return self


NOTHING = Nothing()


class Library:
    """This library as its README shows it: ``Telemetry(...)``, ``telemetry.command(...)``."""

    def __init__(self, name: str) -> None:
        from otel_cli_telemetry import Telemetry

        listed: list[object] = []
        if DESTINATION == "datadog":
            from otel_cli_telemetry import Datadog

            listed.append(Datadog(DATADOG_TOKEN, proxy_url=os.environ["BENCH_INTAKE_URL"]))
        elif DESTINATION == "posthog":
            from otel_cli_telemetry import PostHog

            listed.append(PostHog(POSTHOG_KEY, host=os.environ["BENCH_INTAKE_URL"]))
        self.telemetry = Telemetry(
            SERVICE, version=VERSION, env_prefix=ENV_PREFIX, destinations=listed or None
        )
        self.context = self.telemetry.command(name)

    def __enter__(self) -> object:
        self.context.__enter__()
        if MODE == "enabled_child_span":
            return self.telemetry.tracer.start_as_current_span
        return NOTHING

    def __exit__(self, *exc: object) -> object:
        return self.context.__exit__(*exc)


class Seeds(Nothing):
    """The seeds' stdlib way: an event dict, then one detached child per command."""

    def __init__(self, name: str) -> None:
        self.name, self.start_ns = name, time.time_ns()

    def __enter__(self) -> Nothing:
        return NOTHING  # not self: work("work") must not send again

    def __exit__(self, exc_type: object, *exc: object) -> None:
        import json
        import subprocess

        event = {"event": "command", "command": f"{SERVICE} {self.name}", "version": VERSION}
        event.update(timestamp_ns=self.start_ns, duration_ms=(time.time_ns() - self.start_ns) / 1e6)
        event.update(exit_code=int(exc_type is not None), os=sys.platform, python=sys.version)
        argv, pipe, null = [sys.executable, "-c", SEEDS_SENDER], subprocess.PIPE, subprocess.DEVNULL
        try:
            child = subprocess.Popen(
                argv, stdin=pipe, stdout=null, stderr=null, start_new_session=True
            )
            child.stdin.write(json.dumps(event).encode())  # type: ignore[union-attr]
            child.stdin.close()  # type: ignore[union-attr]  # and no wait
        except OSError:
            pass


class Standard:
    """The standard in-process SDK: BatchSpanProcessor(OTLPSpanExporter), shutdown at the end."""

    def __init__(self, name: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": SERVICE, "service.version": VERSION})
        self.provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.span = self.provider.get_tracer(SERVICE).start_as_current_span(f"{SERVICE} {name}")

    def __enter__(self) -> "Nothing":
        self.span.__enter__()
        return NOTHING

    def __exit__(self, *exc: object) -> object:
        try:
            return self.span.__exit__(*exc)
        finally:
            self.provider.shutdown()


def command(name: str) -> object:
    """The context manager that wraps one command in the current ``BENCH_MODE``."""
    if MODE not in MODES:
        raise SystemExit(f"BENCH_MODE must be one of {', '.join(MODES)}, not {MODE!r}")
    if MODE == "bare":
        return NOTHING
    return {"seeds": Seeds, "standard": Standard}.get(MODE, Library)(name)
