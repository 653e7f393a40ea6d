"""``telemetry disclosure``: every field an app can send, generated from the allow-lists the
code uses (``_process.attributes``, the Datadog and PostHog sinks), so the README and the
command can never drift from what is sent (tests/test_disclosure.py checks all three).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from otel_cli_telemetry._exporter.sinks import datadog, posthog
from otel_cli_telemetry._process import attributes

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


def render(declared: Mapping[str, str] | None = None) -> str:
    """The disclosure as Markdown; ``declared``: the author's attributes (name -> what)."""
    lines = ["Span (kind `INTERNAL`, one per command):", "", *_items(attributes.SPAN_FIELDS)]
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
        "",
        "Datadog logs (only with a client token): one log per command span, with every span",
        "and resource attribute above as a field, and:",
        "",
        *_items(datadog.LOG_FIELDS),
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
    return "\n".join(lines) + "\n"


def readme_section(readme_text: str) -> str:
    """The text between the markers of a README (ValueError if they are missing)."""
    start = readme_text.index(START_MARKER) + len(START_MARKER)
    end = readme_text.index(END_MARKER, start)
    return readme_text[start:end].strip("\n") + "\n"
