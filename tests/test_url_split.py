"""The exporter's URL splitter (``_proxy.split_url``) reads an endpoint as
``urllib.parse.urlsplit`` does, without importing it (issue 21: the child's cost)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_cli_telemetry._exporter.sinks._proxy import Unusable, basic_auth, split_url


def reference(url: str) -> tuple[str, str, int, str, str] | None:
    """What urllib reads, in ``split_url``'s shape; None where it refuses the URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.isascii() or any(c.isspace() or c == "\x7f" for c in target):
        target = quote(target, safe="/?[]@!$&'()*+,;=:%~-._")  # what the client sends
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    host = parts.hostname
    if "%25" in host and ":" in host:  # an IPv6 zone: getaddrinfo takes it as ``%zone``
        host = host.replace("%25", "%", 1)
    return (
        parts.scheme,
        host,
        port or (443 if parts.scheme == "https" else 80),
        target,
        userinfo,
    )


URLS = [
    "http://localhost:4318/v1/traces",
    "https://collector.example.com/v1/traces?x=1#frag",
    "HTTP://Host.Example:80",
    "http://user:p%40ss@h:1/p",
    "http://a@b@h/p",
    "http://[::1]:4318/v1/traces",
    "https://[2001:db8::1]/",
    "  http://h/p",
    "http://h\t/p\n?q",
    "http://h:/x",
    "http://h?x",
    "http://h#x?y",
    "https://h:443",
    "http://%H",  # after a %, urllib keeps the case (hypothesis found it)
    "http://AB%Cd:81/",
]


@pytest.mark.parametrize("url", URLS)
def test_known_endpoints_split_as_urllib_does(url: str) -> None:
    """Each endpoint above gives urllib's scheme, host, port, target and userinfo."""
    assert split_url(url) == reference(url)


@pytest.mark.parametrize(
    "url",
    ["ftp://h/p", "http:/h/p", "h:80", "http://", "http://:80/x", "http://h:99999/", "http://h:0/x",
     "http://h:8o/", "http://[::1/x", "http://::1]/x", "http://[zz]/x", "1http://h/"],
)  # fmt: skip
def test_what_cannot_be_used_is_unusable(url: str) -> None:
    """A scheme, host or port the client cannot use is an ``Unusable`` setting."""
    with pytest.raises(Unusable):
        split_url(url)


@given(
    st.text(alphabet=st.sampled_from(list("hH:/?#@[]%.0123456789 \tap")), max_size=30).map(
        lambda tail: "http://" + tail
    )
)
def test_split_agrees_with_urllib(url: str) -> None:
    """Wherever urllib accepts an http URL with a host, ``split_url`` reads it the same;
    wherever it reads a host ``split_url`` refuses, that host is not one to connect to."""
    expected = reference(url)
    try:
        got = split_url(url)
    except Unusable:
        assert (
            expected is None
            or "[" in url
            or "]" in url
            or expected[1].strip() != expected[1]
            or urlsplit(url).port == 0  # port 0 is refused, never read as port 80
        )
        return
    assert expected is None or got == expected


def test_basic_auth_percent_decodes_userinfo() -> None:
    """Userinfo becomes a Basic credential, percent-escapes undone (RFC 7617)."""
    assert basic_auth("user:p%40ss") == "Basic dXNlcjpwQHNz"
    assert basic_auth("a:b") == "Basic YTpi"
