"""Datadog logs intake sink: each command span becomes one log, sent with a client token.

A Datadog *client token* (``pub`` + 32 hex) is write-only: it can submit logs and nothing
else, which is why browser apps and CLIs may embed it. An *API key* (32 hex) or an
*application key* (40 hex) grants far more and must never ship inside a CLI: both are
refused with a ValueError that says why.

Wire format (Datadog browser logs intake, as Datadog's browser SDK uses it)::

    POST https://browser-intake-<site>/api/v2/logs?ddsource=browser&dd-api-key=<token>
         &dd-evp-origin=browser&dd-evp-origin-version=<our version>&dd-request-id=<uuid4>
    Content-Type: text/plain
    <one JSON log object per line>

The parameters are the browser SDK's (``dd-evp-origin=browser`` as it sends them: the
intake is the browser one). Through a proxy, as Datadog documents it ("Proxy your browser
RUM data"), the intake path and parameters travel URL-encoded in one ``ddforward``
parameter: ``<proxy URL>?ddforward=%2Fapi%2Fv2%2Flogs%3Fddsource%3Dbrowser%26...``; the
proxy rebuilds the intake URL from it.

Limits: at most 50 logs and about 16 KiB per request, 256 KiB per log. 408, 429 and 5xx
are retried (with ``Retry-After``); other answers drop the batch.
"""

from __future__ import annotations

from otel_cli_telemetry._disk import vendors
from otel_cli_telemetry._disk.otlp_read import EXIT_CODE, is_command, iter_spans
from otel_cli_telemetry._disk.otlp_read import attributes as decode_attributes
from otel_cli_telemetry._disk.state import uuid4
from otel_cli_telemetry._exporter.sinks import INTAKE_RETRYABLE, Result, convert_each
from otel_cli_telemetry._exporter.sinks._http import HttpSink, user_agent
from otel_cli_telemetry._exporter.sinks._text import form, json_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from otel_cli_telemetry._disk.destination import Destination
    from otel_cli_telemetry._exporter.sinks._wire import Client

#: site -> intake host: the table of the CLI-side check of a ``Datadog(...)`` destination
#: (``_disk.vendors``, which also checks tokens and sites: the sink sends what it accepted).
SITES = vendors.DATADOG_SITES
DDSOURCE = "browser"
EVP_ORIGIN = "browser"
INTAKE_PATH = vendors.DATADOG_INTAKE_PATH
MAX_LOGS_PER_REQUEST = 50
MAX_REQUEST_BYTES = 16 * 1024
MAX_LOG_BYTES = 256 * 1024
#: Why a log over ``MAX_LOG_BYTES`` is not sent (counted as ``refused_log_too_large``).
TOO_LARGE = "log_too_large"

#: ``ddtags`` of every log: tag -> the resource attribute it comes from (``outcome``: the
#: span's ``cli_telemetry.outcome``).
DDTAGS = (
    ("version", "service.version"),
    ("os", "os.type"),
    ("arch", "host.arch"),
    ("outcome", "cli_telemetry.outcome"),
    ("ci", "cli_telemetry.ci.provider"),
)
#: The fields of every log besides the span's and resource's attributes, which are copied
#: as fields too (``telemetry disclosure`` lists them all).
LOG_FIELDS = (
    ("date", "the command's start, in milliseconds"),
    ("message", "e.g. `assembly transcribe succeeded in 812 ms`"),
    ("status", "`info` or `error`"),
    ("service", "the app's name"),
    ("ddtags", "`" + ",".join(f"{tag}:..." for tag, _ in DDTAGS) + "`"),
    ("duration", "how long the command ran, in nanoseconds"),
    ("trace_id", "the span's trace id"),
    ("span_id", "the span's id"),
    ("dd.trace_id", "the trace id's low 64 bits in decimal, to join logs to traces"),
    ("dd.span_id", "the span id in decimal, to join logs to traces"),
    ("command", "the span's name (the command path)"),
)


def is_intake(url: str) -> bool:
    """True for one of Datadog's own intake URLs, False for a proxy."""
    from otel_cli_telemetry._exporter.sinks._proxy import Unusable, split_url

    try:
        return split_url(url)[1] in SITES.values()
    except Unusable:
        return False


def request_url(endpoint: str, token: str, request_id: str) -> str:
    """The URL one intake request goes to: the intake with its parameters, or a proxy URL
    with the intake path and parameters in ``ddforward`` (Datadog's documented form)."""
    from otel_cli_telemetry._version import __version__

    query = form(
        {
            "ddsource": DDSOURCE,
            "dd-api-key": token,
            "dd-evp-origin": EVP_ORIGIN,
            "dd-evp-origin-version": __version__,
            "dd-request-id": request_id,
        }
    )
    if is_intake(endpoint):
        return f"{endpoint}?{query}"
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{form({'ddforward': f'{INTAKE_PATH}?{query}'})}"


def _verb(outcome: str, code: int) -> str:
    if outcome == "success":
        return "succeeded"
    if outcome == "interrupted":
        return "was interrupted"
    if outcome == "usage_error":
        return f"failed with a usage error (exit code {code})"
    if outcome == "internal_error":
        return f"crashed (exit code {code})"
    return f"failed with exit code {code}"


def to_logs(request: dict[str, Any]) -> list[dict[str, Any]]:
    """One log object per command span (spans with ``process.exit.code``) of a request."""
    logs: list[dict[str, Any]] = []
    for resource, span in iter_spans([request]):
        attrs = decode_attributes(span.get("attributes"))
        if not is_command(attrs):
            continue  # child spans travel as traces, not as logs
        start_ns = int(span.get("startTimeUnixNano") or 0)
        end_ns = int(span.get("endTimeUnixNano") or start_ns)
        duration_ms = (end_ns - start_ns) / 1e6
        code = attrs.get(EXIT_CODE)
        outcome = str(attrs.get("cli_telemetry.outcome", "success" if code == 0 else "error"))
        service = str(resource.get("service.name", "cli"))
        name = str(span.get("name", ""))
        tags = {tag: outcome if tag == "outcome" else resource.get(key) for tag, key in DDTAGS}
        trace_id = str(span.get("traceId", ""))
        span_id = str(span.get("spanId", ""))
        log: dict[str, Any] = {
            "date": start_ns // 1_000_000,
            "message": f"{name} {_verb(outcome, int(code) if isinstance(code, int) else 1)}"
            f" in {duration_ms:.0f} ms",
            "status": "info" if code == 0 else "error",
            "service": service,
            "ddtags": ",".join(f"{k}:{v}" for k, v in tags.items() if v not in (None, "")),
            "duration": end_ns - start_ns,  # Datadog's standard duration is in nanoseconds
            "trace_id": trace_id,
            "span_id": span_id,
            # Datadog correlates logs and traces on the low 64 bits, as decimal strings.
            "dd": {
                "trace_id": str(int(trace_id[-16:] or "0", 16)),
                "span_id": str(int(span_id or "0", 16)),
            },
            "command": name,
        }
        for key, value in {**resource, **attrs}.items():
            log.setdefault(key, value)
        logs.append(log)
    return logs


def _chunks(lines: list[bytes]) -> list[list[bytes]]:
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if current and (
            len(current) >= MAX_LOGS_PER_REQUEST or size + len(line) > MAX_REQUEST_BYTES
        ):
            chunks.append(current)
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append(current)
    return chunks


class DatadogLogsSink(HttpSink):
    """POST command spans as logs to the Datadog (browser) logs intake."""

    #: Keeps one export call's worth of logs within a couple of intake requests.
    max_batch_traces = MAX_LOGS_PER_REQUEST
    retryable = INTAKE_RETRYABLE

    def __init__(self, destination: Destination, *, client: Client | None = None) -> None:
        if not destination.endpoint or not destination.token:
            raise ValueError("a Datadog destination needs an intake URL and a client token")
        super().__init__(destination, client=client)

    def url(self) -> str:
        assert self.destination.endpoint is not None
        assert self.destination.token is not None
        return request_url(self.destination.endpoint, self.destination.token, uuid4())

    def export(self, requests: list[dict[str, Any]], *, timeout_s: float) -> Result:
        logs, bad = convert_each(requests, to_logs)
        if bad:
            return Result.failure("unencodable", unencodable=bad)
        lines: list[bytes] = []
        too_big = 0
        for log in logs:
            line = json_text(log)
            encoded = line.encode("utf-8", "replace")
            if len(encoded) > MAX_LOG_BYTES:
                too_big += 1
                continue
            lines.append(encoded)
        if not lines:
            return Result.failure(TOO_LARGE) if too_big else Result.success()
        headers = {"content-type": "text/plain", "user-agent": user_agent()}
        for chunk in _chunks(lines):
            failure, _ = self.post(self.url(), b"\n".join(chunk), headers, timeout_s)
            if failure is not None:
                return failure
        # The logs left out are lost like refused ones, and counted so (``status`` shows it).
        return Result.success(rejected_spans=too_big, reason=TOO_LARGE if too_big else "")
