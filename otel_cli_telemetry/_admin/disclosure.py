"""``telemetry disclosure``: every field an app can send, generated from the allow-lists the
code uses (``_process.attributes``, the Datadog and PostHog sinks), so the README and the
command can never drift from what is sent (tests/test_disclosure.py checks all three).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING

from otel_cli_telemetry._exporter.sinks import datadog, posthog
from otel_cli_telemetry._process import fields as attributes

if TYPE_CHECKING:
    from otel_cli_telemetry._process.host import Host

#: Where the README holds the generated text (``render({})``).
START_MARKER = "<!-- fields:start -->"
END_MARKER = "<!-- fields:end -->"


def _items(fields: Iterable[tuple[str, str]]) -> list[str]:
    return [f"- `{name}`: {what}" if what else f"- `{name}`" for name, what in fields]


def fields(declared: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Every field name, per place: ``span``, ``resource``, ``author``, ``datadog``,
    ``datadog_tags``, ``posthog``, ``posthog_alias``."""
    return {
        "span": [name for name, _ in attributes.SPAN_FIELDS],
        "resource": [name for name, _ in attributes.RESOURCE_FIELDS],
        "author": list(declared or {}),
        "datadog": [name for name, _ in datadog.LOG_FIELDS],
        "datadog_tags": [tag for tag, _ in datadog.DDTAGS],
        "posthog": [name for name, _ in posthog.PROPERTIES],
        "posthog_alias": [name for name, _ in posthog.ALIAS_PROPERTIES],
    }


#: What each kind of destination receives, said in one line.
_WHERE = {
    "file": "the local file sink (nothing leaves this machine)",
    "otlp": "an OTLP endpoint (the span and resource fields)",
    "datadog": "Datadog's logs intake",
    "posthog": "PostHog",
}


def configured_kinds(telemetry: Host) -> list[str]:
    """The kinds of destination this app is configured for, by the author or the
    environment, whatever consent says now (``file``: none, the local file sink)."""
    from otel_cli_telemetry._process import config

    if not telemetry._listed and not config.configures_a_destination(
        telemetry.env, telemetry.env_prefix
    ):
        return ["file"]
    from otel_cli_telemetry import destinations as destinations_mod

    kinds: list[str] = []
    for wanted in destinations_mod.with_env_defaults(telemetry._listed):
        resolved = wanted.resolve(telemetry.env, env_prefix=telemetry.env_prefix, deadline_s=1.0)
        if resolved is not None and resolved.kind not in kinds:
            kinds.append(resolved.kind)
    return kinds or ["file"]


def render(declared: Mapping[str, str] | None = None, kinds: Collection[str] | None = None) -> str:
    """The disclosure as Markdown; ``declared``: the author's attributes (name -> what);
    ``kinds``: only the fields these destinations receive (None: every destination's, as
    the README lists them)."""
    lines: list[str] = []
    if kinds is not None:
        where = [_WHERE.get(kind, kind) for kind in kinds]
        lines += ["This app sends to: " + "; ".join(where) + ".", ""]
    lines += ["Span (kind `INTERNAL`, one per command):", "", *_items(attributes.SPAN_FIELDS)]
    if declared:
        lines += ["", "Declared by the application (`command(attributes=...)`):", ""]
        lines += _items(declared.items())
    else:
        lines += [
            "- plus the attributes the application sets with `command(attributes=...)` or",
            "  `handle.set_attribute`; it declares them with",
            "  `Telemetry(declared_attributes=[...])`, and its `telemetry disclosure` lists them",
        ]
    lines += [
        "",
        "Resource (on every span):",
        "",
        *_items(attributes.RESOURCE_FIELDS),
        "- plus whatever the operator puts in `OTEL_RESOURCE_ATTRIBUTES`",
        "",
        f"Instrumentation scope: `{attributes.SCOPE_NAME}` and its version.",
    ]
    if kinds is None or "datadog" in kinds:
        lines += _datadog_lines()
    if kinds is None or "posthog" in kinds:
        lines += _posthog_lines()
    return "\n".join(lines) + "\n"


def _datadog_lines() -> list[str]:
    return [
        "",
        "Datadog logs (only with a client token): one log per command span, with every span",
        "and resource attribute above as a field, and:",
        "",
        *_items(datadog.LOG_FIELDS),
    ]


def _posthog_lines() -> list[str]:
    return [
        "",
        f"PostHog (only with a project API key): one `{posthog.EVENT}` event per command",
        "span (`" + "`, `".join(posthog.EVENT_FIELDS) + "`; `distinct_id` is the linked",
        "account or the installation id), with the properties:",
        "",
        *_items(posthog.PROPERTIES),
        "",
        "and on login (`link_identity`), one `$create_alias` event with:",
        "",
        *_items(posthog.ALIAS_PROPERTIES),
    ]


def readme_section(readme_text: str) -> str:
    """The text between the markers of a README (ValueError if they are missing)."""
    start = readme_text.index(START_MARKER) + len(START_MARKER)
    end = readme_text.index(END_MARKER, start)
    return readme_text[start:end].strip("\n") + "\n"
