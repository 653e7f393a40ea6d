"""Test harness for a real OpenTelemetry collector (``rotel``).

Two building blocks:

* :class:`OtlpReceiver` - an in-process OTLP/HTTP backend that records every
  request it gets and decodes trace exports into :class:`ReceivedSpan` records.
* :class:`Rotel` - the real ``rotel-agent`` binary (PyPI package ``rotel``)
  run in the foreground as a child process, listening on free loopback ports
  and forwarding to a backend such as an :class:`OtlpReceiver`.

Typical use (pytest fixtures are wired elsewhere)::

    with OtlpReceiver() as backend, Rotel(backend.url) as rotel:
        post(rotel.http_endpoint + "/v1/traces", ...)
        spans = backend.wait_for_spans(1)

Everything binds 127.0.0.1 only, and every server or process is stopped by
the object that started it.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import gzip
import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import weakref
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeAlias
from urllib.parse import urlsplit

import pytest
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = [
    "AttrValue",
    "OtlpReceiver",
    "ReceivedEvent",
    "ReceivedRequest",
    "ReceivedSpan",
    "Rotel",
    "RotelError",
    "RotelNotInstalledError",
    "ScriptedResponse",
    "decode_any_value",
    "export_request_from_otlp_json",
    "export_request_to_otlp_json",
    "find_rotel_binary",
    "free_port",
    "otlp_http_exporter_args",
    "rotel_binary_or_skip",
]

LOOPBACK = "127.0.0.1"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"

AttrValue: TypeAlias = (
    "str | bool | int | float | bytes | list[AttrValue] | dict[str, AttrValue] | None"
)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    The port is found by binding port 0 and closing the socket, so another
    process may grab it before the caller binds it: callers retry on a clash.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


# Objects still running at interpreter exit are stopped then (last resort only;
# tests are expected to close what they start).
_LIVE: weakref.WeakSet[OtlpReceiver | Rotel] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for obj in list(_LIVE):
        obj.close()


# --------------------------------------------------------------------------
# OTLP decoding helpers
# --------------------------------------------------------------------------


def decode_any_value(value: AnyValue) -> AttrValue:
    """Convert an OTLP ``AnyValue`` into the matching Python value."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return value.bytes_value
    if kind == "array_value":
        return [decode_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _decode_attributes(value.kvlist_value.values)
    return None


def _decode_attributes(pairs: Iterable[KeyValue]) -> dict[str, AttrValue]:
    return {kv.key: decode_any_value(kv.value) for kv in pairs}


_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


def _convert_ids(node: Any, convert: Callable[[str], str]) -> Any:
    """Return ``node`` with every trace/span id string passed through ``convert``.

    Only spans and links carry these keys (attributes are key/value lists), so
    a plain recursive walk is safe.
    """
    if isinstance(node, dict):
        return {
            key: convert(val)
            if key in _ID_KEYS and isinstance(val, str)
            else _convert_ids(val, convert)
            for key, val in node.items()
        }
    if isinstance(node, list):
        return [_convert_ids(item, convert) for item in node]
    return node


def _hex_to_b64(text: str) -> str:
    return base64.b64encode(bytes.fromhex(text)).decode("ascii")


def _b64_to_hex(text: str) -> str:
    return base64.b64decode(text).hex()


def export_request_from_otlp_json(data: bytes | str) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON trace export (hex ids, as the OTLP spec mandates)."""
    doc = json.loads(data)
    msg = ExportTraceServiceRequest()
    json_format.ParseDict(_convert_ids(doc, _hex_to_b64), msg, ignore_unknown_fields=True)
    return msg


def export_request_to_otlp_json(msg: ExportTraceServiceRequest) -> bytes:
    """Serialize a trace export as OTLP/JSON (hex ids, integer enums)."""
    doc = json_format.MessageToDict(msg, use_integers_for_enums=True)
    return json.dumps(_convert_ids(doc, _b64_to_hex)).encode("utf-8")


# --------------------------------------------------------------------------
# Received data records
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEvent:
    """One span event as received by the backend."""

    name: str
    time_unix_nano: int
    attributes: dict[str, AttrValue]


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as received by the backend, flattened with its resource/scope."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    status_code: int
    status_message: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: dict[str, AttrValue]
    resource_attributes: dict[str, AttrValue]
    scope_name: str
    scope_version: str
    events: tuple[ReceivedEvent, ...] = ()


@dataclass(frozen=True)
class ReceivedRequest:
    """One raw HTTP request as received by :class:`OtlpReceiver`.

    ``headers`` has lower-cased names; ``body`` is the bytes on the wire and
    ``payload`` the body after undoing ``Content-Encoding`` (``None`` if that
    failed); ``status`` is the status code the receiver answered.
    """

    method: str
    path: str
    headers: dict[str, str]
    content_type: str
    body: bytes
    payload: bytes | None
    status: int
    error: str = ""
    #: ``time.monotonic()`` when the request arrived (for Retry-After checks).
    received_at: float = 0.0


@dataclass(frozen=True)
class ScriptedResponse:
    """A canned answer :class:`OtlpReceiver` gives instead of its normal 200."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


def _spans_of(msg: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    out: list[ReceivedSpan] = []
    for resource_spans in msg.resource_spans:
        resource_attrs = _decode_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for span in scope_spans.spans:
                out.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=int(span.kind),
                        status_code=int(span.status.code),
                        status_message=span.status.message,
                        start_time_unix_nano=span.start_time_unix_nano,
                        end_time_unix_nano=span.end_time_unix_nano,
                        attributes=_decode_attributes(span.attributes),
                        resource_attributes=dict(resource_attrs),
                        scope_name=scope.name,
                        scope_version=scope.version,
                        events=tuple(
                            ReceivedEvent(
                                name=ev.name,
                                time_unix_nano=ev.time_unix_nano,
                                attributes=_decode_attributes(ev.attributes),
                            )
                            for ev in span.events
                        ),
                    )
                )
    return out


# --------------------------------------------------------------------------
# OtlpReceiver
# --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real OTLP clients expect
    timeout = 10  # idle keep-alive connections are dropped after this
    server: _Server

    def do_POST(self) -> None:
        self.server.receiver._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections so close() can end them."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, receiver: OtlpReceiver) -> None:
        self.receiver = receiver
        self._conn_lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        super().__init__((LOOPBACK, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self._run_worker,
            args=(request, client_address),
            name="otlp-receiver-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._conns.add(request)
            self._workers.add(worker)
        worker.start()

    def _run_worker(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._conns.discard(request)
                self._workers.discard(threading.current_thread())

    def close_connections(self, join_timeout: float) -> None:
        """Shut down open connections and join their worker threads."""
        with self._conn_lock:
            conns = list(self._conns)
            workers = list(self._workers)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + join_timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size_line = handler.rfile.readline(1024)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # skip trailers
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline(1024)  # CRLF after each chunk
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _undo_content_encoding(body: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


ResponseSpec: TypeAlias = "ScriptedResponse | tuple[int, Mapping[str, str], bytes]"


class OtlpReceiver:
    """In-process OTLP/HTTP trace backend on ``127.0.0.1:<free port>``.

    * ``POST .../v1/traces`` with ``application/x-protobuf`` or
      ``application/json`` (optionally gzip/deflate encoded) is decoded, stored
      and answered with an empty ``ExportTraceServiceResponse`` (200) in the
      same content type. Undecodable bodies get 400, other types 415.
    * Any other POST path (e.g. a Datadog exporter's) is recorded raw and
      answered 200 with an empty body.
    * ``responses`` (or :meth:`enqueue`) scripts answers for the next requests,
      whatever their path; the request is recorded but its spans are not.

    The server starts in the constructor; :meth:`close` (or leaving the
    ``with`` block) stops it and joins its threads.
    """

    def __init__(self, responses: Iterable[ResponseSpec] = ()) -> None:
        self._cond = threading.Condition()
        self._requests: list[ReceivedRequest] = []
        self._exports: list[ExportTraceServiceRequest] = []
        self._span_count = 0
        self._scripted: deque[ScriptedResponse] = deque()
        for spec in responses:
            self.enqueue(*_as_scripted(spec))
        self._closed = False
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="otlp-receiver",
            daemon=True,
        )
        self._thread.start()
        _LIVE.add(self)

    # -- public API ---------------------------------------------------------

    @property
    def port(self) -> int:
        """TCP port the receiver listens on."""
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT`` (clients append ``/v1/traces``)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def traces_url(self) -> str:
        """Full trace export URL, ``http://127.0.0.1:PORT/v1/traces``."""
        return self.url + "/v1/traces"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Snapshot of every request received so far, in arrival order."""
        with self._cond:
            return list(self._requests)

    @property
    def pending_responses(self) -> int:
        """Number of scripted responses not used yet."""
        with self._cond:
            return len(self._scripted)

    def enqueue(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        """Script the answer to the next unscripted request (FIFO)."""
        with self._cond:
            self._scripted.append(ScriptedResponse(status, dict(headers or {}), body))

    def export_requests(self) -> list[ExportTraceServiceRequest]:
        """Snapshot of the accepted (200) trace export messages."""
        with self._cond:
            return list(self._exports)

    def spans(self) -> list[ReceivedSpan]:
        """Every accepted span so far, flattened, in arrival order."""
        return [span for msg in self.export_requests() for span in _spans_of(msg)]

    def wait_for_spans(self, n: int = 1, timeout: float = 10.0) -> list[ReceivedSpan]:
        """Block until at least ``n`` spans were accepted; return all spans.

        Raises AssertionError describing what did arrive after ``timeout`` s.
        """
        with self._cond:
            ok = self._cond.wait_for(lambda: self._span_count >= n, timeout)
        if not ok:
            raise AssertionError(
                f"expected at least {n} span(s) within {timeout}s; got {self._describe()}"
            )
        return self.spans()

    def wait_for_requests(self, n: int = 1, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Block until at least ``n`` requests (any status) arrived; return them."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self._requests) >= n, timeout)
        if not ok:
            raise AssertionError(
                f"expected at least {n} request(s) within {timeout}s; got {self._describe()}"
            )
        return self.requests

    def clear(self) -> None:
        """Forget received requests/spans (scripted responses are kept)."""
        with self._cond:
            self._requests.clear()
            self._exports.clear()
            self._span_count = 0

    def close(self) -> None:
        """Stop the server, end open connections and join all threads."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.close_connections(join_timeout=5.0)
        self._server.server_close()
        self._thread.join(5.0)
        _LIVE.discard(self)

    def __enter__(self) -> OtlpReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------

    def _describe(self) -> str:
        requests = self.requests
        spans = self.spans()
        names = [f"{s.name!r} ({s.span_id})" for s in spans]
        reqs = [
            f"{r.method} {r.path} [{r.content_type}] -> {r.status}"
            + (f" ({r.error})" if r.error else "")
            for r in requests
        ]
        return f"{len(spans)} span(s) {names}; {len(requests)} request(s) {reqs}"

    def _handle(self, handler: _Handler) -> None:
        body = _read_body(handler)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        path = urlsplit(handler.path).path
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        encoding = headers.get("content-encoding", "").strip().lower()

        payload: bytes | None
        error = ""
        try:
            payload = _undo_content_encoding(body, encoding)
        except (ValueError, OSError, EOFError, zlib.error) as exc:
            payload, error = None, f"content-encoding: {exc}"

        with self._cond:
            scripted = self._scripted.popleft() if self._scripted else None

        export: ExportTraceServiceRequest | None = None
        if scripted is not None:
            status, out_headers, out_body = (scripted.status, dict(scripted.headers), scripted.body)
        elif payload is None:
            status, out_headers, out_body = 400, {}, b""
        elif path.endswith("/v1/traces"):
            status, out_headers, out_body, export, error = self._decode_traces(
                content_type, payload
            )
        else:
            status, out_headers, out_body = 200, {}, b""

        record = ReceivedRequest(
            method=handler.command,
            path=path,
            headers=headers,
            content_type=content_type,
            body=body,
            payload=payload,
            status=status,
            error=error,
            received_at=time.monotonic(),
        )
        with self._cond:
            self._requests.append(record)
            if export is not None:
                self._exports.append(export)
                self._span_count += sum(
                    len(ss.spans) for rs in export.resource_spans for ss in rs.scope_spans
                )
            self._cond.notify_all()
        _send(handler, status, out_headers, out_body)

    @staticmethod
    def _decode_traces(
        content_type: str, payload: bytes
    ) -> tuple[int, dict[str, str], bytes, ExportTraceServiceRequest | None, str]:
        try:
            if content_type == PROTOBUF:
                msg = ExportTraceServiceRequest()
                msg.ParseFromString(payload)
                reply = ExportTraceServiceResponse().SerializeToString()
            elif content_type == JSON:
                msg = export_request_from_otlp_json(payload)
                reply = json_format.MessageToJson(ExportTraceServiceResponse()).encode()
            else:
                return 415, {}, b"", None, f"unsupported content type {content_type!r}"
        except (DecodeError, json_format.ParseError, ValueError) as exc:
            return 400, {}, b"", None, f"decode: {exc}"
        return 200, {"Content-Type": content_type}, reply, msg, ""


def _as_scripted(spec: ResponseSpec) -> tuple[int, Mapping[str, str], bytes]:
    if isinstance(spec, ScriptedResponse):
        return spec.status, spec.headers, spec.body
    return spec


def _send(
    handler: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: bytes
) -> None:
    try:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if not any(name.lower() == "content-length" for name in headers):
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True  # client went away; nothing to answer


# --------------------------------------------------------------------------
# Rotel
# --------------------------------------------------------------------------


class RotelError(RuntimeError):
    """rotel could not be started (the message carries its log)."""


class RotelNotInstalledError(RotelError):
    """The ``rotel`` package (and so the ``rotel-agent`` binary) is missing."""


def find_rotel_binary() -> Path:
    """Path of ``rotel-agent`` shipped by the ``rotel`` package.

    Raises RotelNotInstalledError if the package or binary is missing.
    """
    spec = importlib.util.find_spec("rotel")
    if spec is None or spec.origin is None:
        raise RotelNotInstalledError(
            "Python package 'rotel' is not installed (pip install --pre rotel)"
        )
    binary = Path(spec.origin).parent / "rotel-agent"
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise RotelNotInstalledError(f"rotel-agent binary missing or not executable: {binary}")
    return binary


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def rotel_binary_or_skip() -> Path:
    """:func:`find_rotel_binary` for fixtures: skip locally, fail in CI (CI=true)."""
    try:
        return find_rotel_binary()
    except RotelNotInstalledError as exc:
        if _in_ci():
            pytest.fail(f"rotel is required in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))


def otlp_http_exporter_args(
    endpoint: str,
    *,
    compression: str = "gzip",
    request_timeout: str = "5s",
    retry_initial_backoff: str = "50ms",
    retry_max_backoff: str = "250ms",
    retry_max_elapsed_time: str = "10s",
) -> list[str]:
    """rotel flags for an OTLP/HTTP exporter to ``endpoint``.

    ``endpoint`` is a BASE URL such as ``http://127.0.0.1:PORT``: rotel
    appends ``/v1/traces`` itself (a full ``.../v1/traces`` URL would be
    posted to ``.../v1/traces/v1/traces``). Retry timings are far shorter than
    rotel's defaults (5 s initial backoff, 300 s max elapsed) to keep tests fast.
    """
    return [
        "--exporter", "otlp",
        "--otlp-exporter-protocol", "http",
        "--otlp-exporter-endpoint", endpoint,
        "--otlp-exporter-compression", compression,
        "--otlp-exporter-request-timeout", request_timeout,
        "--otlp-exporter-retry-initial-backoff", retry_initial_backoff,
        "--otlp-exporter-retry-max-backoff", retry_max_backoff,
        "--otlp-exporter-retry-max-elapsed-time", retry_max_elapsed_time,
    ]  # fmt: skip


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.25):
            return True
    except OSError:
        return False


def _http_answers(port: int, timeout: float) -> bool:
    """Whether an HTTP server on 127.0.0.1:port answers ``GET /`` (any status)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    else:
        return True
    finally:
        conn.close()


def _catches_sigterm(pid: int) -> bool | None:
    """Whether ``pid`` has a SIGTERM handler installed (Linux /proc; else None)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return None


def _listens_on(pid: int, ports: Iterable[int]) -> bool | None:
    """Whether process ``pid`` holds a LISTEN socket on each 127.0.0.1 port.

    Uses Linux /proc; returns None where that is unavailable. This tells
    rotel's own listener apart from another process that took the port.
    """
    try:
        table = Path("/proc/net/tcp").read_text().splitlines()[1:]
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    owned: set[str] = set()
    for fd in fds:
        try:
            owned.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    wanted = {f"0100007F:{port:04X}" for port in ports}
    found: set[str] = set()
    for line in table:
        cols = line.split()
        # cols: sl local_address rem_address st ... inode (index 9)
        if (
            len(cols) > 9
            and cols[1] in wanted
            and cols[3] == "0A"
            and f"socket:[{cols[9]}]" in owned
        ):
            found.add(cols[1])
    return found == wanted


def _child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """Environment for rotel: ours minus ROTEL_* (so no stray config leaks in).

    rotel-agent is linked against ``libpython3.X.so.1.0`` of the Python its
    wheel was built for (it embeds Python for processors) and carries no
    rpath: it starts only if the loader finds that library. A system Python
    provides it; pyenv/uv/other prefixes do not, so the running interpreter's
    LIBDIR is added to the loader path.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTEL_")}
    env["NO_COLOR"] = "1"  # plain-text logs
    libdir = sysconfig.get_config_var("LIBDIR")
    if isinstance(libdir, str) and os.path.isdir(libdir):
        var = "DYLD_FALLBACK_LIBRARY_PATH" if sys.platform == "darwin" else "LD_LIBRARY_PATH"
        env[var] = os.pathsep.join(p for p in (env.get(var, ""), libdir) if p)
    env.update(overrides)
    return env


class Rotel:
    """The real ``rotel-agent`` running in the foreground as our child process.

    Receivers: OTLP/HTTP and OTLP/gRPC, each on its own free 127.0.0.1 port.
    Exporter: OTLP/HTTP to ``exporter_endpoint`` (a base URL such as
    ``OtlpReceiver.url``), or - instead - the flags in ``exporter_args``
    (e.g. ``["--exporter", "blackhole"]``). ``extra_args`` are appended.
    Pid file, log file and captured stdout/stderr live in a private temp dir
    that is removed on :meth:`stop`; :meth:`logs` keeps working afterwards.
    """

    START_ATTEMPTS = 3

    def __init__(
        self,
        exporter_endpoint: str | None = None,
        *,
        exporter_args: Sequence[str] | None = None,
        extra_args: Sequence[str] = (),
        batch_timeout: str = "50ms",
        start_timeout: float = 10.0,
        binary: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        http_port: int | None = None,
    ) -> None:
        if (exporter_endpoint is None) == (exporter_args is None):
            raise ValueError("give exactly one of exporter_endpoint or exporter_args")
        self._exporter_args = (
            otlp_http_exporter_args(exporter_endpoint)
            if exporter_endpoint is not None
            else list(exporter_args or ())
        )
        self._extra_args = list(extra_args)
        self._batch_timeout = batch_timeout
        self._start_timeout = start_timeout
        self._binary = Path(binary) if binary is not None else None
        self._env_overrides = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._http_port = 0
        self._fixed_http_port = http_port
        self._grpc_port = 0
        self._pid: int | None = None
        self._returncode: int | None = None
        self._final_logs = ""
        self.command: list[str] = []
        self.startup_seconds = 0.0

    # -- properties -----------------------------------------------------------

    @property
    def http_port(self) -> int:
        """Port of the OTLP/HTTP receiver."""
        self._require_started()
        return self._http_port

    @property
    def grpc_port(self) -> int:
        """Port of the OTLP/gRPC receiver."""
        self._require_started()
        return self._grpc_port

    @property
    def http_endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` of the OTLP/HTTP receiver (append /v1/traces)."""
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` of the OTLP/gRPC receiver (plaintext)."""
        return f"http://{LOOPBACK}:{self.grpc_port}"

    @property
    def pid(self) -> int:
        """Pid of the rotel process this object started."""
        if self._pid is None:
            raise RuntimeError("rotel was not started")
        return self._pid

    @property
    def returncode(self) -> int | None:
        """Exit status once the process ended (None while running)."""
        if self._proc is not None:
            return self._proc.poll()
        return self._returncode

    @property
    def running(self) -> bool:
        """Whether the process we started is still alive."""
        return self._proc is not None and self._proc.poll() is None

    def logs(self) -> str:
        """rotel's output so far (captured stdout/stderr plus --log-file)."""
        if self._tmp is None:
            return self._final_logs
        return self._read_logs(Path(self._tmp.name))

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> Rotel:
        """Start rotel; return once both receiver ports accept connections.

        Retries with new ports if one was taken meanwhile. Raises RotelError
        (with rotel's log) if it exits or is not ready within start_timeout.
        """
        if self._proc is not None:
            raise RuntimeError("rotel already started")
        binary = self._binary or find_rotel_binary()
        self._tmp = tempfile.TemporaryDirectory(prefix="rotel-test-")
        work = Path(self._tmp.name)
        env = _child_env(self._env_overrides)
        began = time.monotonic()
        _LIVE.add(self)
        try:
            for attempt in range(1, self.START_ATTEMPTS + 1):
                # A fixed port lets a test bring a "down" collector back at the same address.
                http_port = self._fixed_http_port or free_port()
                grpc_port = free_port()
                while grpc_port == http_port:
                    grpc_port = free_port()
                self._http_port, self._grpc_port = http_port, grpc_port
                self.command = [
                    str(binary), "start",
                    "--otlp-http-endpoint", f"{LOOPBACK}:{http_port}",
                    "--otlp-grpc-endpoint", f"{LOOPBACK}:{grpc_port}",
                    "--pid-file", str(work / "rotel.pid"),
                    "--log-file", str(work / "rotel.log"),
                    "--batch-timeout", self._batch_timeout,
                    *self._exporter_args,
                    *self._extra_args,
                ]  # fmt: skip
                self._out = open(work / f"stdout-{attempt}.log", "wb")  # noqa: SIM115
                self._proc = subprocess.Popen(
                    self.command,
                    stdin=subprocess.DEVNULL,
                    stdout=self._out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=work,
                )
                self._pid = self._proc.pid
                if self._wait_ready(began + self._start_timeout):
                    self.startup_seconds = time.monotonic() - began
                    return self
                clash = "address already in use" in self.logs().lower()
                self._reap(timeout=5.0)
                if not clash or attempt == self.START_ATTEMPTS:
                    break
            raise RotelError(
                f"rotel did not start (exit status {self.returncode}); "
                f"command: {' '.join(self.command)}\n--- rotel log ---\n{self.logs()}"
            )
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, deadline: float) -> bool:
        """True once rotel serves; False if it exited; raise RotelError on timeout.

        rotel binds both ports first thing (so a TCP connect succeeds early),
        but serves HTTP only after it built its exporters, which is where a bad
        exporter config makes it exit. So readiness is: both listeners are this
        pid's (Linux), the HTTP receiver answers a request, the gRPC port
        accepts, and the SIGTERM handler is installed (Linux) so that stop()
        gets a clean, flushing shutdown.
        """
        proc = self._proc
        assert proc is not None
        ports = (self._http_port, self._grpc_port)
        while True:
            if proc.poll() is not None:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._reap(timeout=5.0)
                raise RotelError(
                    f"rotel not ready within {self._start_timeout}s on "
                    f"http={self._http_port} grpc={self._grpc_port}; "
                    f"command: {' '.join(self.command)}\n"
                    f"--- rotel log ---\n{self.logs()}"
                )
            owns = _listens_on(proc.pid, ports)
            if (
                owns is not False
                and _http_answers(self._http_port, min(0.5, remaining))
                and _port_accepts(self._grpc_port)
                and _catches_sigterm(proc.pid) is not False
            ):
                if owns is None:  # no /proc: give a port clash time to show
                    time.sleep(0.2)
                return proc.poll() is None
            time.sleep(0.01)

    def _reap(self, timeout: float) -> None:
        """SIGTERM the child we started, SIGKILL after ``timeout``; always wait."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            # Popen.send_signal never signals a pid it has already reaped.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._returncode = proc.returncode
        if self._out is not None:
            self._out.close()
            self._out = None

    def stop(self, timeout: float = 5.0) -> int | None:
        """Stop rotel (SIGTERM, SIGKILL after ``timeout`` s), reap it, clean up.

        Idempotent; returns the exit status (rotel exits 0 on SIGTERM after
        flushing its pending batch).
        """
        self._reap(timeout)
        self._proc = None
        if self._tmp is not None:
            self._final_logs = self._read_logs(Path(self._tmp.name))
            self._tmp.cleanup()
            self._tmp = None
        _LIVE.discard(self)
        return self._returncode

    close = stop

    def __enter__(self) -> Rotel:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------

    def _require_started(self) -> None:
        if self._pid is None:
            raise RuntimeError("rotel was not started")

    @staticmethod
    def _read_logs(work: Path) -> str:
        parts: list[str] = []
        for path in [*sorted(work.glob("stdout-*.log")), work / "rotel.log"]:
            if path.is_file():
                text = path.read_text("utf-8", errors="replace")
                if text:
                    parts.append(f"[{path.name}]\n{text}")
        return "\n".join(parts)


Behaviour = Callable[[socket.socket, bytes], None]


class RawServer:
    """A loopback TCP server that reads each request (head and Content-Length body) and
    hands the socket to ``behave``: it answers whatever bytes, at whatever pace."""

    def __init__(self, behave: Behaviour) -> None:
        self.behave = behave
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536)
                    head, _, body = data.partition(b"\r\n\r\n")
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            while len(body) < int(line.split(b":")[1]):
                                body += conn.recv(65536)
                    self.requests.append(head + b"\r\n\r\n" + body)
                    self.behave(conn, head)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
