"""OTLP/JSON to the protobuf ``ExportTraceServiceRequest``, without the protobuf runtime.

Why by hand: importing ``google.protobuf.json_format`` and the OTLP message classes costs an
exporter child about 140 M instructions (one and a half lean CLI commands) to encode a few
hundred bytes. What ``json_format.ParseDict(request, ExportTraceServiceRequest(),
ignore_unknown_fields=True).SerializeToString()`` does for OTLP trace requests is small: the
messages below, each field once, in field-number order, proto3 defaults left out (members of
``AnyValue``'s oneof always written), ids spelled in hex as OTLP/JSON has them.
``tests/test_protobuf_encoding.py`` compares the bytes with the protobuf runtime's.

What ``ParseDict`` refuses is refused here too (``ValueError`` or ``TypeError``): a value of
the wrong JSON type, a number out of its field's range, a string with a lone surrogate, two
members of one oneof. Keys and enum names it does not know are skipped, as
``ignore_unknown_fields`` does. (A message given as a JSON array is refused, even an empty
one, which the runtime reads as an empty message.)
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    #: json name -> (field number, kind, message schema for MESSAGE and REPEATED)
    Schema = dict[str, tuple[int, str, "Schema | None"]]

_STRING, _BYTES_HEX, _BYTES_B64, _BOOL = "string", "hex", "base64", "bool"
_INT64, _UINT32, _FIXED32, _FIXED64, _DOUBLE = "int64", "uint32", "fixed32", "fixed64", "double"
_SPAN_KIND, _STATUS_CODE = "span_kind", "status_code"
_MESSAGE, _REPEATED, _ONEOF = "message", "repeated", "oneof"

_ENUMS: dict[str, dict[str, int]] = {
    _SPAN_KIND: {
        "SPAN_KIND_UNSPECIFIED": 0,
        "SPAN_KIND_INTERNAL": 1,
        "SPAN_KIND_SERVER": 2,
        "SPAN_KIND_CLIENT": 3,
        "SPAN_KIND_PRODUCER": 4,
        "SPAN_KIND_CONSUMER": 5,
    },
    _STATUS_CODE: {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2},
}
_RANGES = {
    _INT64: (-(2**63), 2**63 - 1),
    _UINT32: (0, 2**32 - 1),
    _FIXED32: (0, 2**32 - 1),
    _FIXED64: (0, 2**64 - 1),
    _SPAN_KIND: (-(2**31), 2**31 - 1),
    _STATUS_CODE: (-(2**31), 2**31 - 1),
}
#: Wire types: varint 0, 64-bit 1, length-delimited 2, 32-bit 5.
_WIRE = {_FIXED64: 1, _DOUBLE: 1, _FIXED32: 5, _STRING: 2, _BYTES_HEX: 2, _BYTES_B64: 2}


def _schema(*fields: tuple[str, int, str, Schema | None]) -> Schema:
    """Each field under its JSON name and its proto name (``ParseDict`` takes both)."""
    out: Schema = {}
    for name, number, kind, sub in fields:
        out[name] = (number, kind, sub)
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
        out[snake] = (number, kind, sub)
    return out


_ANY: Schema = {}
_KEY_VALUE = _schema(("key", 1, _STRING, None), ("value", 2, _MESSAGE, _ANY))
_ANY.update(
    _schema(
        ("stringValue", 1, _ONEOF + _STRING, None),
        ("boolValue", 2, _ONEOF + _BOOL, None),
        ("intValue", 3, _ONEOF + _INT64, None),
        ("doubleValue", 4, _ONEOF + _DOUBLE, None),
        ("arrayValue", 5, _ONEOF + _MESSAGE, _schema(("values", 1, _REPEATED, _ANY))),
        ("kvlistValue", 6, _ONEOF + _MESSAGE, _schema(("values", 1, _REPEATED, _KEY_VALUE))),
        ("bytesValue", 7, _ONEOF + _BYTES_B64, None),
    )
)
_EVENT = _schema(
    ("timeUnixNano", 1, _FIXED64, None),
    ("name", 2, _STRING, None),
    ("attributes", 3, _REPEATED, _KEY_VALUE),
    ("droppedAttributesCount", 4, _UINT32, None),
)
_LINK = _schema(
    ("traceId", 1, _BYTES_HEX, None),
    ("spanId", 2, _BYTES_HEX, None),
    ("traceState", 3, _STRING, None),
    ("attributes", 4, _REPEATED, _KEY_VALUE),
    ("droppedAttributesCount", 5, _UINT32, None),
    ("flags", 6, _FIXED32, None),
)
_SPAN = _schema(
    ("traceId", 1, _BYTES_HEX, None),
    ("spanId", 2, _BYTES_HEX, None),
    ("traceState", 3, _STRING, None),
    ("parentSpanId", 4, _BYTES_HEX, None),
    ("name", 5, _STRING, None),
    ("kind", 6, _SPAN_KIND, None),
    ("startTimeUnixNano", 7, _FIXED64, None),
    ("endTimeUnixNano", 8, _FIXED64, None),
    ("attributes", 9, _REPEATED, _KEY_VALUE),
    ("droppedAttributesCount", 10, _UINT32, None),
    ("events", 11, _REPEATED, _EVENT),
    ("droppedEventsCount", 12, _UINT32, None),
    ("links", 13, _REPEATED, _LINK),
    ("droppedLinksCount", 14, _UINT32, None),
    (
        "status",
        15,
        _MESSAGE,
        _schema(("message", 2, _STRING, None), ("code", 3, _STATUS_CODE, None)),
    ),
    ("flags", 16, _FIXED32, None),
)
_SCOPE = _schema(
    ("name", 1, _STRING, None),
    ("version", 2, _STRING, None),
    ("attributes", 3, _REPEATED, _KEY_VALUE),
    ("droppedAttributesCount", 4, _UINT32, None),
)
_RESOURCE = _schema(
    ("attributes", 1, _REPEATED, _KEY_VALUE),
    ("droppedAttributesCount", 2, _UINT32, None),
)
_SCOPE_SPANS = _schema(
    ("scope", 1, _MESSAGE, _SCOPE),
    ("spans", 2, _REPEATED, _SPAN),
    ("schemaUrl", 3, _STRING, None),
)
_RESOURCE_SPANS = _schema(
    ("resource", 1, _MESSAGE, _RESOURCE),
    ("scopeSpans", 2, _REPEATED, _SCOPE_SPANS),
    ("schemaUrl", 3, _STRING, None),
)
_REQUEST = _schema(("resourceSpans", 1, _REPEATED, _RESOURCE_SPANS))


def encode_request(request: dict[str, Any]) -> bytes:
    """The serialised ``ExportTraceServiceRequest`` of an OTLP/JSON trace request."""
    return _message(request, _REQUEST)


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # negative int64 and enum values: ten bytes, two's complement
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _message(node: object, schema: Schema) -> bytes:
    if not isinstance(node, dict):
        raise TypeError("a message must be a JSON object")
    fields: list[tuple[int, bytes]] = []
    oneof = 0
    for key, value in node.items():
        spec = schema.get(key)
        if spec is None or value is None:  # unknown (ignore_unknown_fields), or null: unset
            continue
        number, kind, sub = spec
        if kind.startswith(_ONEOF):
            oneof += 1
            if oneof > 1:
                raise ValueError("two members of one oneof")
            encoded = _field(number, kind[len(_ONEOF) :], value, sub, keep_default=True)
        else:
            encoded = _field(number, kind, value, sub, keep_default=False)
        if encoded:
            fields.append((number, encoded))
    fields.sort(key=lambda item: item[0])
    numbers = [number for number, _ in fields]
    if len(set(numbers)) != len(numbers):
        raise ValueError("a field given twice (JSON and proto names)")
    return b"".join(encoded for _, encoded in fields)


def _field(number: int, kind: str, value: Any, sub: Schema | None, *, keep_default: bool) -> bytes:
    """One field's bytes (tag included); b"" for a proto3 default that is not written."""
    if kind == _REPEATED:
        if not isinstance(value, list):
            raise TypeError("a repeated field must be a JSON array")
        assert sub is not None
        tag = _varint(number << 3 | 2)
        out = []
        for item in value:
            if item is None:
                raise ValueError("null in a repeated field")
            body = _message(item, sub)
            out.append(tag + _varint(len(body)) + body)
        return b"".join(out)
    if kind == _MESSAGE:
        assert sub is not None
        body = _message(value, sub)
        return _varint(number << 3 | 2) + _varint(len(body)) + body
    payload = _scalar(kind, value)
    if not keep_default and payload in (b"", 0, False, 0.0):
        return b""
    wire = _WIRE.get(kind, 0)
    tag = _varint(number << 3 | wire)
    if wire == 2:
        assert isinstance(payload, bytes)
        return tag + _varint(len(payload)) + payload
    if kind == _DOUBLE:
        import _struct  # built in; the ``struct`` wrapper adds nothing we need

        return tag + _struct.pack("<d", payload)
    if wire in (1, 5):
        assert isinstance(payload, int)
        return tag + payload.to_bytes(8 if wire == 1 else 4, "little")
    return tag + _varint(int(payload))


def _scalar(kind: str, value: Any) -> bytes | int | float | bool:
    """A JSON value as ``ParseDict`` reads it into a field of this kind."""
    if kind == _STRING:
        if not isinstance(value, str):
            raise TypeError("a string field must be a JSON string")
        return value.encode("utf-8")  # a lone surrogate raises, as ParseDict refuses it
    if kind == _BYTES_HEX:
        if not isinstance(value, str):
            raise TypeError("an id must be a hex string")
        return bytes.fromhex(value)
    if kind == _BYTES_B64:
        if not isinstance(value, str):
            raise TypeError("bytes must be a base64 string")
        import binascii

        text = value.replace("-", "+").replace("_", "/")
        return binascii.a2b_base64(text + "=" * (-len(text) % 4))
    if kind == _BOOL:
        if isinstance(value, bool):
            return value
        raise TypeError("a bool field must be true or false, unquoted")
    if kind == _DOUBLE:
        return _double(value)
    if kind in _ENUMS and isinstance(value, str):
        if value in _ENUMS[kind]:
            return _ENUMS[kind][value]
        try:
            int(value)
        except ValueError:
            return 0  # a name we do not know: unset, as ignore_unknown_fields has it
    number = _integer(value)
    low, high = _RANGES[kind]
    if not low <= number <= high:
        raise ValueError(f"{number} is outside the range of a {kind} field")
    return number


def _integer(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError("a bool is not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not an integer")
        return int(value)
    if isinstance(value, str):
        if " " in value:
            raise ValueError("not an integer")
        return int(value)
    if isinstance(value, int):
        return value
    raise TypeError("not an integer")


_SPECIAL = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _double(value: object) -> float:
    if isinstance(value, bool):
        raise TypeError("a bool is not a number")
    if isinstance(value, float):
        if value != value or value in (_SPECIAL["Infinity"], _SPECIAL["-Infinity"]):
            raise ValueError("NaN and the infinities are spelled as strings in JSON")
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        if value in _SPECIAL:
            return _SPECIAL[value]
        return float(value)
    raise TypeError("not a number")
