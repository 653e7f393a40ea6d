"""PostHog sink: each command span becomes a ``cli command executed`` event, sent with
``POST <host>/batch/``. Identity aliases queued by ``link_identity`` travel in the same
spool, so they go out in order, before any event that uses the principal id.

Only a *project* API key (``phc_...``, write-only, meant to be public) is accepted; a
*personal* API key (``phx_...``) can read and change the whole organisation and is refused.
"""

from __future__ import annotations

import os
import time

from otel_cli_telemetry._disk import enqueue
from otel_cli_telemetry._disk.otlp_read import EXIT_CODE, is_command, iter_spans
from otel_cli_telemetry._disk.otlp_read import attributes as decode_attributes
from otel_cli_telemetry._disk.state import uuid4
from otel_cli_telemetry._exporter.sinks import INTAKE_RETRYABLE, Result, convert_each
from otel_cli_telemetry._exporter.sinks._http import HttpSink, user_agent
from otel_cli_telemetry._exporter.sinks._text import json_text, uuid5

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from otel_cli_telemetry._disk.destination import Destination
    from otel_cli_telemetry._exporter.sinks._wire import Client

EVENT = "cli command executed"
ALIAS_SCOPE = "otel_cli_telemetry._disk.identity"
ALIAS_SPAN = "$create_alias"
MAX_EVENTS_PER_REQUEST = 100
_UUID_NAMESPACE = "6f1d3c2a-8e4b-5a7c-9d0e-1f2a3b4c5d6e"
#: Event properties copied from the resource: property -> resource attribute.
FROM_RESOURCE = (
    ("version", "service.version"),
    ("os", "os.type"),
    ("os_version", "os.version"),
    ("arch", "host.arch"),
)
#: Every property of a ``cli command executed`` event (``telemetry disclosure`` lists them).
PROPERTIES = (
    ("command", "the command path, e.g. `assembly transcribe`"),
    ("outcome", "as `cli_telemetry.outcome`"),
    ("exit_code", "the exit code"),
    ("duration_ms", "how long the command ran"),
    *((name, f"as `{key}`") for name, key in FROM_RESOURCE),
    ("runtime", "e.g. `cpython 3.12.1`"),
    ("ci", "the CI provider, or false"),
    ("$lib", "`otel-cli-telemetry`, the sender, as PostHog's own libraries name themselves"),
    ("$lib_version", "the sender's version"),
    ("error_type", "only when the exit code is not 0: as `error.type`"),
    ("sample_rate", "only when the app samples installations: as `cli_telemetry.sample_rate`"),
    ("$process_person_profile", "false while anonymous"),
)
#: The event's own fields (``distinct_id``: the linked account, else the installation id).
EVENT_FIELDS = ("event", "distinct_id", "properties", "timestamp", "uuid")
#: Properties of the ``$create_alias`` event queued by ``link_identity``.
ALIAS_PROPERTIES = (
    ("alias", "the anonymous installation id"),
    ("distinct_id", "the linked account id"),
    ("$lib", "as on command events"),
    ("$lib_version", "as on command events"),
)
LIB = "otel-cli-telemetry"


def _lib() -> dict[str, str]:
    """``$lib``/``$lib_version``: who sent the event, as every PostHog SDK sets them."""
    from otel_cli_telemetry._version import __version__

    return {"$lib": LIB, "$lib_version": __version__}


def alias_request(anonymous_id: str, principal_id: str, now_ns: int) -> dict[str, Any]:
    """The spool record of a ``$create_alias``: an OTLP JSON request with one marker span,
    written only to PostHog's queue."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [
                    {
                        "scope": {"name": ALIAS_SCOPE},
                        "spans": [
                            {
                                "name": ALIAS_SPAN,
                                "traceId": uuid4().replace("-", ""),
                                "spanId": uuid4().replace("-", "")[:16],
                                "startTimeUnixNano": str(now_ns),
                                "endTimeUnixNano": str(now_ns),
                                "attributes": [
                                    {"key": "alias", "value": {"stringValue": anonymous_id}},
                                    {"key": "distinct_id", "value": {"stringValue": principal_id}},
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }


def alias_queuer(spool_dir: str | os.PathLike[str]) -> Callable[[str, str], None]:
    """``identity.link``'s ``on_alias``: spool a ``$create_alias`` in PostHog's queue."""

    def queue_alias(anonymous_id: str, principal_id: str) -> None:
        request = alias_request(anonymous_id, principal_id, time.time_ns())
        enqueue.write(spool_dir, enqueue.dumps(request))

    return queue_alias


def _timestamp(ns: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.timezone.utc).isoformat()


def to_events(request: dict[str, Any]) -> list[dict[str, Any]]:
    """PostHog events, in spool order, for the command spans and aliases of a request."""
    events: list[dict[str, Any]] = []
    for resource, span in iter_spans([request]):
        attrs = decode_attributes(span.get("attributes"))
        start_ns = int(span.get("startTimeUnixNano") or 0)
        event_id = uuid5(_UUID_NAMESPACE, f"{span.get('traceId')}{span.get('spanId')}")
        if span.get("name") == ALIAS_SPAN and "alias" in attrs:
            aliased = str(attrs.get("distinct_id", ""))
            events.append(
                {
                    "event": "$create_alias",
                    "distinct_id": aliased,
                    "properties": {
                        "alias": str(attrs["alias"]),
                        "distinct_id": aliased,
                        **_lib(),
                    },
                    "timestamp": _timestamp(start_ns),
                    "uuid": event_id,
                }
            )
            continue
        if not is_command(attrs):
            continue  # child spans are not usage events
        principal = resource.get("user.id")
        distinct_id = str(principal or resource.get("app.installation.id") or "anonymous")
        end_ns = int(span.get("endTimeUnixNano") or start_ns)
        properties: dict[str, Any] = {
            "command": span.get("name"),
            "outcome": attrs.get("cli_telemetry.outcome"),
            "exit_code": attrs.get(EXIT_CODE),
            "duration_ms": round((end_ns - start_ns) / 1e6, 3),
            **{name: resource.get(key) for name, key in FROM_RESOURCE},
            "runtime": f"{resource.get('process.runtime.name')} "
            f"{resource.get('process.runtime.version')}",
            "ci": resource.get("cli_telemetry.ci.provider") or False,
            **_lib(),
        }
        if "error.type" in attrs:
            properties["error_type"] = attrs["error.type"]
        if "cli_telemetry.sample_rate" in attrs:
            properties["sample_rate"] = attrs["cli_telemetry.sample_rate"]
        if not principal:
            properties["$process_person_profile"] = False
        events.append(
            {
                "event": EVENT,
                "distinct_id": distinct_id,
                "properties": properties,
                "timestamp": _timestamp(start_ns),
                "uuid": event_id,
            }
        )
    return events


class PostHogSink(HttpSink):
    """POST usage events (and aliases) to PostHog's ``/batch/`` endpoint."""

    max_batch_traces = MAX_EVENTS_PER_REQUEST
    retryable = INTAKE_RETRYABLE

    def __init__(self, destination: Destination, *, client: Client | None = None) -> None:
        if not destination.endpoint or not destination.token:
            raise ValueError("a PostHog destination needs a host and a project API key")
        super().__init__(destination, client=client)

    def export(self, requests: list[dict[str, Any]], *, timeout_s: float) -> Result:
        events, bad = convert_each(requests, to_events)
        if bad:
            return Result.failure("unencodable", unencodable=bad)
        if not events:
            return Result.success()
        body = json_text({"api_key": self.destination.token, "batch": events}).encode(
            "utf-8", "replace"
        )
        assert self.destination.endpoint is not None
        failure, _ = self.post(
            self.destination.endpoint,
            body,
            {"content-type": "application/json", "user-agent": user_agent()},
            timeout_s,
        )
        return failure or Result.success()
