"""JSON text in and out for the files a command reads and writes, without the ``json``
package's import cost on the command's path.

``import json`` loads four modules and compiles six regular expressions: about a
millisecond, a tenth of what a lean CLI pays for a recorded command. The work itself is
done by CPython's C accelerator ``_json`` (what ``json`` uses underneath), driven here
directly: its scanner decodes, its string escaper encodes, and the few lines around them
are ours. Where ``_json`` is missing (PyPy, a stripped build) the ``json`` package does it.

Both sides agree with ``json.loads``/``json.dumps(separators=(",", ":"))``
on every value these files hold (objects with string keys, arrays, strings, integers,
finite floats, booleans, null); ``tests/test_jsontext.py`` checks that with hypothesis.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


_WHITESPACE = " \t\n\r"
_INFINITIES = (float("inf"), float("-inf"))


class _Context:
    """What ``_json.make_scanner`` reads off ``json.JSONDecoder``: the defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity: what json.loads gives too


_scan: "Any" = None
_quote: "dict[bool, Any]" = {}
try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    pass
else:
    _scan = _json.make_scanner(_Context())  # type: ignore[arg-type]
    _quote = {True: _json.encode_basestring_ascii, False: _json.encode_basestring}


def loads(data: "bytes | str") -> "Any":
    """``json.loads(data)`` for UTF-8 ``data``: ValueError (or RecursionError) if it is not
    one JSON value, whitespace around it allowed."""
    text = data.decode() if isinstance(data, bytes) else data
    if text[:1] == "\ufeff" and isinstance(data, bytes):
        text = text[1:]  # a UTF-8 byte order mark, which json.loads skips in bytes too
    if _scan is None:  # pragma: no cover
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"not JSON: nothing to decode at character {exc.value}") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"not JSON: extra data at character {end}")
    return value


def dumps(
    value: "Any", *, sort_keys: bool = False, ensure_ascii: bool = True, allow_nan: bool = False
) -> str:
    """``json.dumps(value, separators=(",", ":"), ...)``: compact; NaN and the infinities
    (which JSON lacks) a ValueError unless ``allow_nan``; TypeError for other types."""
    if not _quote:  # pragma: no cover
        import json

        return json.dumps(
            value, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=ensure_ascii,
            allow_nan=allow_nan,
        )  # fmt: skip
    quote = _quote[ensure_ascii]
    parts: list[str] = []
    _encode(value, parts, quote, sort_keys, allow_nan)
    return "".join(parts)


def _encode(
    value: "Any", parts: "list[str]", quote: "Any", sort_keys: bool, allow_nan: bool
) -> None:
    if isinstance(value, str):
        parts.append(quote(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, int):
        parts.append(int.__repr__(value))
    elif isinstance(value, float):
        if value != value or value in _INFINITIES:
            if not allow_nan:
                raise ValueError(f"JSON has no {value!r}")
            parts.append("NaN" if value != value else "Infinity" if value > 0 else "-Infinity")
        else:
            parts.append(float.__repr__(value))
    elif isinstance(value, dict):
        items = sorted(value.items()) if sort_keys else value.items()
        parts.append("{")
        first = True
        for key, item in items:
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            if not first:
                parts.append(",")
            first = False
            parts.append(quote(key))
            parts.append(":")
            _encode(item, parts, quote, sort_keys, allow_nan)
        parts.append("}")
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _encode(item, parts, quote, sort_keys, allow_nan)
        parts.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
