"""What the HTTP sinks share: one client per exporter run, and one answer to "what does
this response mean for the spooled data" (accepted, retry later, or refused for good)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_cli_telemetry._disk import delivery
from otel_cli_telemetry._exporter.sinks import (
    MAX_BATCH_TRACES,
    OTLP_HTTP_RETRYABLE,
    Result,
    http_result,
)

if TYPE_CHECKING:
    import httpx

    from otel_cli_telemetry._disk.destination import Destination


class HttpSink:
    """Base of the OTLP, Datadog and PostHog sinks. ``client=`` is the test seam."""

    #: Statuses worth retrying (see ``sinks``); everything else outside 2xx is refused.
    retryable: frozenset[int] = OTLP_HTTP_RETRYABLE
    max_batch_traces = MAX_BATCH_TRACES

    def __init__(self, destination: Destination, *, client: httpx.Client | None = None) -> None:
        self.destination = destination
        self._client = client
        self._owns_client = client is None

    def _new_client(self) -> httpx.Client:
        import httpx

        return httpx.Client(verify=True, follow_redirects=False, trust_env=True)

    def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> tuple[Result | None, httpx.Response | None]:
        """Send one request. ``(None, response)`` on 2xx; otherwise the Result to return."""
        import httpx

        try:
            if self._client is None:
                self._client = self._new_client()
        except (OSError, ValueError) as exc:  # e.g. an unreadable CA or client certificate
            return Result.retry(f"tls_config:{exc.__class__.__name__}"), None
        timeout = max(0.05, min(timeout_s, self.destination.timeout_s))
        try:
            response = self._client.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return Result.retry("timeout"), None
        except httpx.TransportError as exc:
            return Result.retry(f"transport:{exc.__class__.__name__}"), None
        status = response.status_code
        if 200 <= status < 300:
            return None, response
        retry_after = delivery.parse_retry_after(response.headers.get("retry-after"))
        return http_result(status, retry_after, self.retryable), response

    def shutdown(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
        self._client = None


def user_agent() -> str:
    from otel_cli_telemetry._version import __version__

    return f"otel-cli-telemetry/{__version__}"
