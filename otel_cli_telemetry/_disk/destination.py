"""Where spans go, resolved in the CLI process and handed to the exporter child.

The child never reads the host's configuration or imports its code: it reads this
description from ``destination.json`` (0600, in the private state dir), which the CLI
rewrites only when it changed. Headers may hold credentials: they are never logged.
"""

from otel_cli_telemetry._disk import state
from otel_cli_telemetry._process import config
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from otel_cli_telemetry._disk.fs import StrPath

#: The ``kind`` tags of ``destination.json``: the local file sink's, and each vendor class's
#: ``kind`` in ``otel_cli_telemetry.destinations``. ``vendors`` checks and describes the
#: vendors' records, loaded only for that: a command to the default sink never needs it.
FILE = "file"
OTLP = "otlp"
DATADOG = "datadog"
POSTHOG = "posthog"
KINDS = (FILE, OTLP, DATADOG, POSTHOG)


class Destination(Record):
    """One place spans go.

    ``deadline_s``: the exporter child exits by this many seconds after it starts, whatever
    happens. ``file_max_bytes``: size cap of the local file sink before it rotates.
    ``token``: Datadog's client token or PostHog's project key, both write-only (never
    logged, hidden from the repr). ``insecure``: OTLP/gRPC only, a plaintext channel
    instead of TLS.
    """

    __slots__ = (
        "kind", "endpoint", "protocol", "headers", "timeout_s", "compression", "deadline_s",
        "file_max_bytes", "token", "ca_file", "client_cert", "client_key", "insecure",
    )  # fmt: skip

    def __init__(
        self,
        kind: str = FILE,
        endpoint: str | None = None,
        protocol: str = config.DEFAULT_PROTOCOL,
        headers: dict[str, str] | None = None,
        timeout_s: float = config.DEFAULT_TIMEOUT_S,
        compression: str | None = None,
        deadline_s: float = config.DEFAULT_EXPORT_DEADLINE_S,
        file_max_bytes: int = 5 * 1024 * 1024,
        token: str | None = None,
        ca_file: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        insecure: bool = False,
    ) -> None:
        self.insecure = insecure
        self.ca_file = ca_file
        self.client_cert = client_cert
        self.client_key = client_key
        self.kind = kind
        self.endpoint = endpoint
        self.protocol = protocol
        self.headers = dict(headers) if headers else {}
        self.timeout_s = timeout_s
        self.compression = compression
        self.deadline_s = deadline_s
        self.file_max_bytes = file_max_bytes
        self.token = token

    def to_json(self) -> "dict[str, Any]":
        data = self._asdict()
        data["headers"] = dict(self.headers)
        return data

    @classmethod
    def from_json(cls, data: "Mapping[str, Any]") -> "Destination":
        kind = data.get("kind", FILE)
        if kind not in KINDS:
            raise ValueError("unknown destination kind")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError("headers must map strings to strings")
        endpoint = data.get("endpoint")
        if kind != FILE and not (isinstance(endpoint, str) and endpoint.startswith("http")):
            raise ValueError(f"an {kind} destination needs an http(s) endpoint")
        token = None
        if kind in (DATADOG, POSTHOG):
            from otel_cli_telemetry._disk import vendors

            token = vendors.check_token(kind, data.get("token"))
        protocol = data.get("protocol", config.DEFAULT_PROTOCOL)
        if not isinstance(protocol, str) or protocol.lower() not in config.PROTOCOLS:
            raise ValueError("unsupported protocol")
        protocol = protocol.lower()
        compression = data.get("compression")
        if compression not in (None, "gzip"):
            raise ValueError("unsupported compression")
        return cls(
            kind=kind,
            endpoint=endpoint if isinstance(endpoint, str) else None,
            protocol=protocol,
            headers=dict(headers),
            timeout_s=_positive(data.get("timeout_s"), config.DEFAULT_TIMEOUT_S),
            compression=compression,
            deadline_s=_positive(data.get("deadline_s"), config.DEFAULT_EXPORT_DEADLINE_S),
            file_max_bytes=int(_positive(data.get("file_max_bytes"), 5 * 1024 * 1024)),
            token=token,
            ca_file=_optional_str(data.get("ca_file")),
            client_cert=_optional_str(data.get("client_cert")),
            client_key=_optional_str(data.get("client_key")),
            insecure=data.get("insecure") is True and protocol == config.GRPC,
        )

    def describe(self) -> str:
        """A human summary without secrets, for ``status``."""
        if self.kind == FILE:
            return "local file (embedded default)"
        from otel_cli_telemetry._disk import vendors

        return vendors.describe(self)

    def __repr__(self) -> str:
        # Headers and tokens are credentials: a repr ends up in logs and tracebacks.
        fields = {name: repr(value) for name, value in self._asdict().items()}
        fields["headers"] = f"<{len(self.headers)} hidden>"
        fields["token"] = "<hidden>" if self.token else "None"
        return f"Destination({', '.join(f'{k}={v}' for k, v in fields.items())})"


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _positive(value: object, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e9:
        return float(value)
    return default


def queue_name(index: int, dest: "Destination") -> str:
    """The first destination uses ``spool/``; each further one ``spool-<kind>/``."""
    return "" if index == 0 else dest.kind


def queues(
    paths: "state.Paths", destinations: "list[Destination]"
) -> "list[tuple[state.Paths, Destination]]":
    """Each destination with the paths of its own spool, lock and back-off."""
    return [(paths.for_queue(queue_name(i, d)), d) for i, d in enumerate(destinations)]


def save(path: "StrPath", destinations: "list[Destination]") -> None:
    """Persist for the exporter child, rewriting only when it changed."""
    wanted = {"destinations": [d.to_json() for d in destinations]}
    try:
        if state.read_json(path) == wanted:
            return
    except (ValueError, OSError):
        pass
    state.write_json(path, wanted)


def load(path: "StrPath") -> "list[Destination]":
    """The destinations the last command chose; the local file sink if none or unreadable."""
    try:
        data = state.read_json(path)
    except (ValueError, OSError):
        return [Destination()]
    if not data:
        return [Destination()]
    items = data.get("destinations")
    if not isinstance(items, list):
        items = [data]  # one destination, as written by earlier versions
    result: list[Destination] = []
    for item in items[:4]:
        try:
            if isinstance(item, dict):
                result.append(Destination.from_json(item))
        except (ValueError, TypeError):
            continue
    return result or [Destination()]
