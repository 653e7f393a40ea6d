"""What an author may add to a span (``command(attributes=...)``, ``set_attribute``): valid
OpenTelemetry values, bounded, nothing stringified. Loaded only when an author adds one."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

MAX_USER_KEY_LENGTH = 128
MAX_USER_VALUE_LENGTH = 1024
MAX_USER_SEQUENCE = 64

_Scalar = (str, bool, int, float)


def clean_user_value(value: object) -> object | None:
    """A valid OpenTelemetry attribute value, truncated; None if it cannot be one.

    Strings are cut to ``MAX_USER_VALUE_LENGTH`` characters (lone surrogates replaced);
    integers must fit in 64 bits; sequences must be homogeneous scalars. Anything else
    (None, mappings, objects, bytes) is refused rather than stringified: its ``repr``
    could carry what the author did not mean to send.
    """
    if isinstance(value, str):
        text = value[:MAX_USER_VALUE_LENGTH]
        return text.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else None
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        items = [clean_user_value(v) for v in list(value)[:MAX_USER_SEQUENCE]]
        if any(v is None for v in items):
            return None
        kinds = {type(v) for v in items}
        if len(kinds) > 1:
            return None
        return tuple(items)
    return None


def clean_user_attributes(values: "Mapping[Any, object] | None") -> tuple[dict[str, object], int]:
    """The author's attributes that can be sent, and how many were refused."""
    cleaned: dict[str, object] = {}
    refused = 0
    for key, value in (values or {}).items():
        if not isinstance(key, str) or not key or len(key) > MAX_USER_KEY_LENGTH:
            refused += 1
            continue
        good = clean_user_value(value)
        if good is None:
            refused += 1
            continue
        cleaned[key] = good
    return cleaned, refused
