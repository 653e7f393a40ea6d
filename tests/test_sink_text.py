"""The intake sinks' text helpers (``sinks._text``) give what the standard modules they
stand in for give (``uuid``, ``urllib.parse.urlencode``, ``json.dumps``), without loading
them in the exporter child (issue 21)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from otel_cli_telemetry._disk import state
from otel_cli_telemetry._exporter.sinks import _text

NAMESPACE = "6f1d3c2a-8e4b-5a7c-9d0e-1f2a3b4c5d6e"


@given(st.text(max_size=40))
def test_uuid5_is_the_standard_one(name: str) -> None:
    """A name-based UUID is ``uuid.uuid5``'s, to the character."""
    assert _text.uuid5(NAMESPACE, name) == str(uuid.uuid5(uuid.UUID(NAMESPACE), name))


def test_uuid4_is_a_random_version_4_uuid() -> None:
    """A random UUID parses as version 4 of the RFC 4122 variant, and two differ."""
    first, second = state.uuid4(), state.uuid4()
    parsed = uuid.UUID(first)
    assert (str(parsed), parsed.version, parsed.variant) == (first, 4, uuid.RFC_4122)
    assert first != second


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4))
def test_form_is_urlencode(fields: dict[str, str]) -> None:
    """Query parameters are spelled as ``urlencode`` spells them (``quote_plus``)."""
    assert _text.form(fields) == urlencode(fields)


def test_json_text_is_compact_json_with_str_for_the_rest() -> None:
    """Compact JSON, non-ASCII kept, NaN spelled as ``json`` does, and a value JSON has no
    type for written as its ``str``."""
    value = {"a": [1, 2.5, None, True, "é"], "b": float("nan"), "c": uuid.UUID(NAMESPACE)}
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    assert _text.json_text(value) == expected
