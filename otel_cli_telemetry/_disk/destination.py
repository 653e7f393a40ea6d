"""Where spans go, resolved in the CLI process and handed to the exporter child.

Each destination has its own queue, named by its ``queue_id`` (no secret in it), and its
own record, ``queue-<id>.json`` (0600, in the private state dir), which the command that
queues a trace there rewrites only when it changed. The child never reads the host's
configuration or imports its code: it sends each queue to the destination its record names
(``recorded``). Headers may hold credentials: they are never logged.
"""

import os

from otel_cli_telemetry._disk import contract, state
from otel_cli_telemetry._disk import contract as config  # the shared names (``config.X``)
from otel_cli_telemetry._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


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
    instead of TLS. ``problem``: why the endpoint or protocol the user set cannot be used;
    such a destination is never replaced by another (the local file): its queue keeps
    what it records, counted and capped, nothing is sent, and ``status`` says why.
    """

    __slots__ = (
        "kind", "endpoint", "protocol", "headers", "timeout_s", "compression", "deadline_s",
        "file_max_bytes", "token", "ca_file", "client_cert", "client_key", "insecure",
        "problem",
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
        problem: str | None = None,
    ) -> None:
        self.problem = problem
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
        problem = data.get("problem")
        # An unusable destination keeps its queue (nothing sent); anything else must be usable.
        problem = problem[:200] if isinstance(problem, str) and problem else None
        if (
            kind != FILE
            and problem is None
            and not (isinstance(endpoint, str) and endpoint.startswith("http"))
        ):
            raise ValueError(f"an {kind} destination needs an http(s) endpoint")
        token = None
        if kind in (DATADOG, POSTHOG):
            from otel_cli_telemetry._disk import vendors

            token = vendors.check_token(kind, data.get("token"))
        protocol = data.get("protocol", config.DEFAULT_PROTOCOL)
        if not isinstance(protocol, str) or (
            protocol.lower() not in config.PROTOCOLS and problem is None
        ):
            raise ValueError("unsupported protocol")
        protocol = protocol.lower()[:32]
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
            problem=problem,
        )

    def describe(self) -> str:
        """A human summary without secrets, for ``status``: the endpoint without its
        userinfo and query values (``urls.redact``)."""
        if self.kind == FILE:
            return "local file (embedded default)"
        from otel_cli_telemetry._disk import urls, vendors

        shown = Destination(**self._asdict())
        shown.endpoint = urls.redact(self.endpoint) if self.endpoint else self.endpoint
        described = vendors.describe(shown)
        if self.problem:
            described += f" [not sent: {urls.redact_text(self.problem)}; traces wait in its queue]"
        return described

    def __repr__(self) -> str:
        # Headers and tokens are credentials: a repr ends up in logs and tracebacks.
        fields = {name: repr(value) for name, value in self._asdict().items()}
        if self.endpoint:
            from otel_cli_telemetry._disk import urls

            fields["endpoint"] = repr(urls.redact(self.endpoint))
        fields["headers"] = f"<{len(self.headers)} hidden>"
        fields["token"] = "<hidden>" if self.token else "None"
        return f"Destination({', '.join(f'{k}={v}' for k, v in fields.items())})"


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _positive(value: object, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e9:
        return float(value)
    return default


def queue_id(dest: "Destination") -> str:
    """The destination's id, as decision records name it: ``file``, or its kind and a digest
    of what tells it from another destination of that kind (endpoint, protocol, token: never
    shown). Headers are credentials of the same destination: they may change."""
    return contract.queue_id(dest.kind, [dest.endpoint, dest.protocol, dest.token])


def queue_name(paths: "state.Paths", dest: "Destination", *, first: bool = False) -> str:
    """The ``Paths.queue`` of a destination's queue: "" (``spool/``) for the destination its
    record names, or, while it has none, for the ``first`` destination an app lists (so a
    one-destination app keeps the layout of earlier versions); else its id
    (``spool-<id>/``). Reads one small file; writes nothing (``save`` records the claim)."""
    claimed = _recorded_id(paths.for_queue(""))
    wanted = queue_id(dest)
    if claimed == wanted:
        return ""
    if claimed is None and first and (dest.kind == FILE or not _holds_traces(paths)):
        return ""
    return wanted


def _holds_traces(paths: "state.Paths") -> bool:
    """Whether ``spool/`` holds traces while it has no record: an earlier version's, or the
    local file sink's (``recorded`` reads them so). Only the file sink may then claim it: a
    network destination never inherits traces it was not recorded for."""
    try:
        return any(name.endswith(".json") for name in os.listdir(paths.for_queue("").spool_dir))
    except OSError:
        return False


def queues(
    paths: "state.Paths", destinations: "list[Destination]"
) -> "list[tuple[state.Paths, Destination]]":
    """Each destination with the paths of its own spool, lock, back-off and record. (An
    earlier version's queues must be adopted first: ``inventory.adopt_legacy``.)"""
    found: dict[str, tuple[state.Paths, Destination]] = {}
    for index, dest in enumerate(destinations):
        name = queue_name(paths, dest, first=index == 0)
        found.setdefault(name, (paths.for_queue(name), dest))
    return list(found.values())


def save(queue_paths: "state.Paths", dest: "Destination") -> None:
    """Record a queue's destination for the exporter child, rewriting only when it changed.
    (Two commands claiming ``spool/`` at once for different destinations: the loser's trace
    names its own destination and is never sent to the winner's, see ``consent.may_send``.)"""
    wanted = {
        "version": 1,
        "queue": queue_paths.queue,
        "id": queue_id(dest),
        "destination": dest.to_json(),
    }
    try:
        if state.read_json(queue_paths.queue_file) == wanted:
            return
    except (ValueError, OSError):
        pass
    state.write_json(queue_paths.queue_file, wanted)


def queue_record(queue_paths: "state.Paths") -> "dict[str, Any] | None":
    try:
        data = state.read_json(queue_paths.queue_file)
    except (ValueError, OSError):
        return None
    if not data or data.get("queue") != queue_paths.queue or not isinstance(data.get("id"), str):
        return None
    return data


def _recorded_id(queue_paths: "state.Paths") -> "str | None":
    data = queue_record(queue_paths)
    return None if data is None else str(data["id"])


def load_queue(queue_paths: "state.Paths") -> "Destination | None":
    """The destination a queue was recorded for; None if unrecorded or unreadable, or if the
    record does not match its name (a queue is never sent anywhere else)."""
    data = queue_record(queue_paths)
    item = None if data is None else data.get("destination")
    try:
        dest = Destination.from_json(item) if isinstance(item, dict) else None
    except (ValueError, TypeError):
        return None
    if dest is None or data is None or queue_id(dest) != data["id"]:
        return None
    if queue_paths.queue not in ("", data["id"]):
        return None
    return dest
