"""What the HTTP sinks share: one client per exporter run, and one answer to "what does
this response mean for the spooled data" (accepted, retry later, or refused for good)."""

from __future__ import annotations

from otel_cli_telemetry._disk import delivery
from otel_cli_telemetry._exporter.sinks import (
    MAX_BATCH_TRACES,
    OTLP_HTTP_RETRYABLE,
    Result,
    http_result,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl

    from otel_cli_telemetry._disk.destination import Destination
    from otel_cli_telemetry._exporter.sinks._wire import Client, Response

#: How long a setting we cannot use (a proxy scheme, a header, TLS files) holds delivery
#: back: fixing it is a human's job, and every try would fail the same way.
UNUSABLE_RETRY_S = 300.0


class HttpSink:
    """Base of the OTLP, Datadog and PostHog sinks. ``client=`` is the test seam (a
    ``_wire.Client`` with its own ``env`` or ``clock``)."""

    #: Statuses worth retrying (see ``sinks``); everything else outside 2xx is refused.
    retryable: frozenset[int] = OTLP_HTTP_RETRYABLE
    max_batch_traces = MAX_BATCH_TRACES

    def __init__(self, destination: Destination, *, client: Client | None = None) -> None:
        self.destination = destination
        if client is None:
            # Here, not at import: building a Datadog or PostHog destination in the CLI
            # process loads its sink module (the checks live there), never the network.
            from otel_cli_telemetry._exporter.sinks._wire import Client

            client = Client(tls=self.tls_context)
        self._client = client

    def tls_context(self) -> ssl.SSLContext:
        """Built on the first ``https://`` request only: verification always on."""
        return tls_context(self.destination)

    def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> tuple[Result | None, Response | None]:
        """Send one request. ``(None, response)`` on 2xx; otherwise the Result to return.

        The per-request timeout bounds the whole request, the response's body included.
        """
        from otel_cli_telemetry._exporter.sinks._wire import Unusable

        timeout = max(0.05, min(timeout_s, self.destination.timeout_s))
        try:
            response = self._client.post(url, body, headers, timeout)
        except Unusable as exc:
            return Result.retry(f"setting:{exc.reason}", retry_after_s=UNUSABLE_RETRY_S), None
        except TimeoutError:
            self._client.close()
            return Result.retry("timeout"), None
        except OSError as exc:
            self._client.close()
            return Result.retry(f"transport:{exc.__class__.__name__}"), None
        status = response.status
        if 200 <= status < 300:
            return None, response
        retry_after = delivery.parse_retry_after(response.headers.get("retry-after"))
        return http_result(status, retry_after, self.retryable), response

    def shutdown(self) -> None:
        self._client.close()


def tls_context(destination: Destination) -> ssl.SSLContext:
    """Verification always on: the system store (``SSL_CERT_FILE``/``SSL_CERT_DIR`` as
    OpenSSL reads them), or the CA file the operator named, plus a client certificate for
    mutual TLS."""
    import ssl

    context = ssl.create_default_context(cafile=destination.ca_file)
    if destination.client_cert and destination.client_key:
        context.load_cert_chain(destination.client_cert, destination.client_key)
    return context


def user_agent() -> str:
    """Our product, then the exporter in the form the OTLP exporter specification asks for
    (``protocol/exporter.md#user-agent``: the exporter, its language and its version, as the
    Python SDK's ``OTel-OTLP-Exporter-Python/<version>``); the exporter is ours, so is its
    version."""
    from otel_cli_telemetry._version import __version__

    return f"otel-cli-telemetry/{__version__} OTel-OTLP-Exporter-Python/{__version__}"
