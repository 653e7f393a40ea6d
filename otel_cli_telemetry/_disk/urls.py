"""URLs as they may be printed, and URLs built from an endpoint that may carry a query.

Anything an admin command, the debug output or a ``describe()`` prints goes through
``redact``/``redact_text``: a URL loses its userinfo (``alice:S3cretPass@``) and the values
of its query (``?api-key=...``) and fragment, which is where credentials hide. Stdlib only,
imports nothing of ours, and nothing at all until called.
"""

#: What a removed secret is shown as.
HIDDEN = "***"
#: Characters that end a URL inside free text (quotes: a URL inside JSON or a repr).
_URL_END = frozenset(" \t\r\n\"'<>`,;")


def redact(url: str) -> str:
    """``https://alice:pw@host:4318/p?api-key=X&flag#f`` ->
    ``https://host:4318/p?api-key=***&flag=***#***``; works on ``host:port`` targets and on
    malformed URLs (it never raises). A password may hold ``/``, ``?`` or ``#``: everything
    up to the last ``@`` before the path is userinfo, so it goes whatever it holds (hiding a
    little too much beats printing a secret)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    if at >= 0:
        rest = rest[at + 1 :]
    rest, hash_sign, _fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    out = f"{scheme}{sep}{rest}"
    if question:
        out += "?" + "&".join(_hide_value(item) for item in query.split("&"))
    if hash_sign:
        out += "#" + HIDDEN
    return out


def _hide_value(item: str) -> str:
    name, equals, _value = item.partition("=")
    if not item:
        return item
    # A bare ``?token`` has no name: all of it may be the secret.
    return f"{name}={HIDDEN}" if equals else HIDDEN


def redact_text(text: str) -> str:
    """``text`` with every ``scheme://...`` URL in it redacted (``redact``)."""
    if "://" not in text:
        return text
    out: list[str] = []
    i = 0
    while True:
        found = text.find("://", i)
        if found < 0:
            out.append(text[i:])
            return "".join(out)
        start = found
        while start > i and (text[start - 1].isalnum() or text[start - 1] in "+-."):
            start -= 1
        end = found + 3
        while end < len(text) and text[end] not in _URL_END:
            end += 1
        while end > found + 3 and text[end - 1] in ".:)]!":  # punctuation after a URL
            end -= 1
        out.append(text[i:start])
        out.append(redact(text[start:end]))
        i = end


def with_path(url: str, path: str) -> str:
    """``url`` with ``path`` appended to its path, before any query or fragment:
    ``https://h/base?k=v`` + ``v1/traces`` -> ``https://h/base/v1/traces?k=v``."""
    head, hash_sign, fragment = url.partition("#")
    head, question, query = head.partition("?")
    out = head.rstrip("/") + "/" + path.lstrip("/")
    if question:
        out += "?" + query
    if hash_sign:
        out += "#" + fragment
    return out
