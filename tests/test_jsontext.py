"""The command path's JSON (``_disk.jsontext``) reads and writes what ``json`` does."""

import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_cli_telemetry._disk import jsontext
from tests.conftest import without_coverage

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values, st.booleans(), st.booleans())
def test_dumps_writes_what_json_dumps_writes(value: object, sort_keys: bool, ascii: bool) -> None:
    """Byte for byte, compact, with and without sorted keys and ASCII escapes."""
    expected = json.dumps(
        value, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=ascii, allow_nan=False
    )
    assert jsontext.dumps(value, sort_keys=sort_keys, ensure_ascii=ascii) == expected


@given(values)
def test_loads_reads_what_json_writes(value: object) -> None:
    """Round trip through json's own text, pretty-printed or compact."""
    for text in (json.dumps(value), json.dumps(value, indent=2, ensure_ascii=False)):
        assert jsontext.loads(text.encode()) == json.loads(text)


@given(st.binary(max_size=40) | st.text(max_size=20).map(str.encode))
def test_loads_fails_where_json_fails(raw: bytes) -> None:
    """Whatever json refuses, this refuses with a ValueError; whatever it reads, this reads."""
    try:
        expected = json.loads(raw.decode())
    except ValueError:
        try:
            jsontext.loads(raw)
        except ValueError:
            return
        pytest.fail(f"{raw!r} was read, json refuses it")
    else:
        got = jsontext.loads(raw)
        assert got == expected or (got != got and expected != expected)  # NaN


@pytest.mark.parametrize(
    "raw", [b"", b"  ", b"{", b'{"a":1} x', b'{"a":1}{}', b"[1,]", b"\xff\xfe", b"nul"]
)
def test_loads_refuses_what_is_not_one_json_value(raw: bytes) -> None:
    """``loads`` raises ValueError for empty input, truncated or trailing data, and undecodable
    bytes."""
    with pytest.raises(ValueError, match=r"not JSON|Expecting|Illegal|codec"):
        jsontext.loads(raw)


def test_loads_skips_a_utf8_byte_order_mark_and_surrounding_whitespace() -> None:
    """``loads`` skips a UTF-8 BOM and surrounding whitespace."""
    assert jsontext.loads(b'\xef\xbb\xbf \n{"a": [1, 2.5, null]}\t\r\n') == {"a": [1, 2.5, None]}


def test_loads_reads_nan_and_infinities_as_json_does() -> None:
    """``loads`` reads NaN and the infinities as the json module does."""
    got = jsontext.loads(b"[NaN, Infinity, -Infinity]")
    assert math.isnan(got[0])
    assert got[1:] == [math.inf, -math.inf]


def test_nested_past_the_parser_is_a_recursion_error_not_a_crash() -> None:
    """Nesting too deep for the parser raises RecursionError instead of crashing the interpreter."""
    with pytest.raises(RecursionError):
        jsontext.loads(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, {"a": [math.nan]}])
def test_dumps_refuses_nan_and_infinities_unless_allowed(value: object) -> None:
    """``dumps`` refuses NaN and infinities unless ``allow_nan``, then writes them as json.dumps
    does."""
    with pytest.raises(ValueError, match="JSON has no"):
        jsontext.dumps(value)
    expected = json.dumps(value, separators=(",", ":"))
    assert jsontext.dumps(value, allow_nan=True) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [({1: "a"}, "keys must be strings"), ({"a": {1, 2}}, "set is not JSON serializable")],
)
def test_dumps_refuses_what_json_files_cannot_hold(value: object, message: str) -> None:
    """``dumps`` raises TypeError for non-string keys and unserialisable values."""
    with pytest.raises(TypeError, match=message):
        jsontext.dumps(value)


def test_lone_surrogates_pass_through_as_json_dumps_lets_them() -> None:
    """``dumps`` passes lone surrogates through exactly as json.dumps does."""
    value = {"k": "a\udcffb"}
    assert jsontext.dumps(value, ensure_ascii=False) == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False
    )


def test_reading_and_writing_loads_no_json_module() -> None:
    """The point of the module: a command that reads and writes its files imports neither
    ``json`` nor ``re`` (in a fresh interpreter)."""
    code = (
        "import sys\n"
        "from otel_cli_telemetry._disk import jsontext\n"
        "text = jsontext.dumps({'a': [1, 2.5, None, True, 'é']}, ensure_ascii=False)\n"
        "assert jsontext.loads(text.encode()) == {'a': [1, 2.5, None, True, 'é']}\n"
        "print(sorted(m for m in sys.modules if m == 're' or m.startswith('json')))\n"
    )
    # Without coverage.py's variables: a measured subprocess would load json for coverage.
    done = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True, text=True, check=True, env=without_coverage(dict(os.environ)),
    )  # fmt: skip
    assert done.stdout.strip() == "[]"
