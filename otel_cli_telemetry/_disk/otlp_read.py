"""Reading the spooled OTLP/JSON back: the decoder and the command-span contract that the
exporter's sinks, ``show`` and the test kit share (the writing side is ``otlp_json``).

A *command span* is the span ``telemetry.command()`` records: it, and only it, carries
``process.exit.code`` (child spans made with ``telemetry.tracer`` do not).
"""

from __future__ import annotations

from otel_cli_telemetry._disk.contract import EXIT_CODE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

__all__ = ["EXIT_CODE", "attributes", "is_command", "is_command_span", "iter_spans", "value"]


def value(any_value: dict[str, Any]) -> object:
    """One OTLP/JSON ``AnyValue`` as a Python value (None if it is not one)."""
    for key in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if key in any_value:
            return any_value[key]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    if "arrayValue" in any_value:
        return [value(v) for v in any_value["arrayValue"].get("values", [])]
    if "kvlistValue" in any_value:
        return {kv["key"]: value(kv["value"]) for kv in any_value["kvlistValue"].get("values", [])}
    return None


def attributes(key_values: Iterable[dict[str, Any]] | None) -> dict[str, object]:
    """OTLP/JSON key/values as a dict; entries that are not well-formed are left out."""
    result: dict[str, object] = {}
    for kv in key_values or []:
        try:
            result[str(kv["key"])] = value(kv["value"])
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            continue
    return result


def iter_spans(
    requests: Iterable[dict[str, Any]],
) -> Iterator[tuple[dict[str, object], dict[str, Any]]]:
    """(resource attributes, span) pairs from OTLP/JSON requests."""
    for request in requests:
        for resource_spans in request.get("resourceSpans") or []:
            resource = attributes((resource_spans.get("resource") or {}).get("attributes"))
            for scope_spans in resource_spans.get("scopeSpans") or []:
                for span in scope_spans.get("spans") or []:
                    yield resource, span


def is_command(attrs: dict[str, object]) -> bool:
    """True for the decoded attributes of a command span."""
    return EXIT_CODE in attrs


def is_command_span(span: dict[str, Any]) -> bool:
    """True for an encoded (OTLP/JSON) command span, without decoding its values."""
    attrs = span.get("attributes")
    return isinstance(attrs, list) and any(
        isinstance(a, dict) and a.get("key") == EXIT_CODE for a in attrs
    )
