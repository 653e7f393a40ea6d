"""The page ``telemetry view`` writes: one self-contained HTML file, charts in inline SVG.

No script at all, no network: a Content-Security-Policy forbids both, styles are inline.
Every string from disk (span names, attribute values, destination descriptions) is data:
each goes through ``html.escape`` before it reaches the page.
"""

from __future__ import annotations

import datetime
import html
from collections import Counter
from collections.abc import Sequence

from otel_cli_telemetry._record import Record

#: One colour per outcome (the screenshot test looks for them); anything else is grey.
COLOURS = {
    "success": "#2e7d32",
    "error": "#c62828",
    "usage_error": "#ef6c00",
    "interrupted": "#6a1b9a",
    "internal_error": "#ad1457",
}
OTHER_COLOUR = "#757575"
DURATION_COLOUR = "#1565c0"
MAX_BUCKETS = 48
MAX_COMMANDS = 12
MAX_ROWS = 50
_W, _LABEL = 760, 170  # chart width and its label column, in SVG units


class Row(Record):
    """One command span as the page shows it."""

    __slots__ = ("start_ns", "name", "outcome", "exit_code", "duration_ms", "where")

    def __init__(
        self,
        start_ns: int,
        name: str,
        outcome: str,
        exit_code: object,
        duration_ms: float,
        where: str,
    ) -> None:
        self.start_ns = start_ns
        self.name = name
        self.outcome = outcome
        self.exit_code = exit_code
        self.duration_ms = duration_ms
        self.where = where


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _colour(outcome: str) -> str:
    return COLOURS.get(outcome, OTHER_COLOUR)


def _when(ns: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9).strftime(fmt)


def _svg(height: int, body: list[str], label: str) -> str:
    return (
        f'<svg role="img" aria-label="{_e(label)}" viewBox="0 0 {_W} {height}" '
        f'width="{_W}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


def over_time(rows: Sequence[Row]) -> str:
    """Commands per hour (or per day, over a longer range), stacked by outcome."""
    if not rows:
        return "<p>No commands yet.</p>"
    first = min(r.start_ns for r in rows)
    last = max(r.start_ns for r in rows)
    hour = 3600 * 10**9
    step = hour if last - first <= 2 * 24 * hour else 24 * hour
    while (last - first) // step + 1 > MAX_BUCKETS:
        step *= 2
    base = first - first % step
    buckets: dict[int, Counter[str]] = {}
    for row in rows:
        buckets.setdefault((row.start_ns - base) // step, Counter())[row.outcome] += 1
    count = int((last - base) // step) + 1
    tallest = max(sum(c.values()) for c in buckets.values())
    height, top, bottom = 200, 10, 30
    usable = height - top - bottom
    slot = (_W - 40) / max(count, 1)
    width = min(slot, 36.0)  # one lone bucket stays a bar, not a wall
    body = [
        f'<line x1="40" y1="{height - bottom}" x2="{_W}" y2="{height - bottom}" stroke="#999"/>'
    ]
    body.append(f'<text x="34" y="{top + 10}" text-anchor="end" font-size="11">{tallest}</text>')
    for index in range(count):
        counts = buckets.get(index)
        x = 40 + index * slot
        if counts:
            y = float(height - bottom)
            for outcome, n in sorted(counts.items()):
                h = usable * n / tallest
                y -= h
                title = f"{_when(base + index * step)}: {n} {outcome}"
                body.append(
                    f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(width - 2, 1):.1f}" '
                    f'height="{h:.1f}" fill="{_colour(outcome)}"><title>{_e(title)}</title></rect>'
                )
    fmt = "%m-%d %H:00" if step < 24 * hour else "%Y-%m-%d"
    body.append(f'<text x="34" y="{height - bottom}" text-anchor="end" font-size="11">0</text>')
    for index in (0, count - 1) if count > 1 else (0,):
        anchor = "start" if index == 0 else "end"
        x = 40 if index == 0 else 40 + index * slot + width
        body.append(
            f'<text x="{x}" y="{height - 10}" font-size="11" text-anchor="{anchor}">'
            f"{_e(_when(base + index * step, fmt))}</text>"
        )
    return _svg(height, body, "commands over time")


def _hbars(items: list[tuple[str, float, str, str]], label: str) -> str:
    """Horizontal bars: (label, value, colour, text after the bar)."""
    if not items:
        return "<p>No commands yet.</p>"
    largest = max(value for _, value, _, _ in items) or 1.0
    bar_h, gap = 18, 6
    height = len(items) * (bar_h + gap) + gap
    usable = _W - _LABEL - 290
    body: list[str] = []
    for i, (name, value, colour, text) in enumerate(items):
        y = gap + i * (bar_h + gap)
        w = max(usable * value / largest, 1.0)
        short = name if len(name) <= 26 else name[:25] + "…"
        body.append(
            f'<text x="{_LABEL - 6}" y="{y + 13}" font-size="12" text-anchor="end">'
            f"{_e(short)}<title>{_e(name)}</title></text>"
            f'<rect x="{_LABEL}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{_LABEL + w + 6:.1f}" y="{y + 13}" font-size="12">{_e(text)}</text>'
        )
    return _svg(height, body, label)


def outcomes(rows: Sequence[Row]) -> str:
    counts = Counter(r.outcome for r in rows)
    items = [(o, float(n), _colour(o), str(n)) for o, n in counts.most_common()]
    return _hbars(items, "outcomes")


def durations(rows: Sequence[Row]) -> str:
    """The median duration of the most run commands (and their slowest run)."""
    by_name: dict[str, list[float]] = {}
    for row in rows:
        by_name.setdefault(row.name, []).append(row.duration_ms)
    common = sorted(by_name.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:MAX_COMMANDS]
    items = []
    for name, values in common:
        ordered = sorted(values)
        median = ordered[len(ordered) // 2]
        text = f"median {median:.1f} ms, slowest {ordered[-1]:.1f} ms, {len(values)} run(s)"
        items.append((name, median, DURATION_COLOUR, text))
    return _hbars(items, "durations")


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fff;max-width:980px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #ddd;
text-align:left}.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
pre{background:#f6f6f6;padding:10px;font-size:12px;white-space:pre-wrap}
"""


def page(
    app_name: str,
    rows: Sequence[Row],
    destinations: Sequence[tuple[str, int | None, int]],
    mode: str,
    disclosure: str,
    generated_ns: int,
) -> str:
    """The whole page; ``destinations``: (description, delivered or None, waiting)."""
    legend = "".join(
        f'<span><i style="background:{c}"></i>{_e(o)}</span>' for o, c in COLOURS.items()
    )
    dest_rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{'-' if sent is None else sent}</td><td>{waiting}</td></tr>"
        for name, sent, waiting in destinations
    )
    latest = sorted(rows, key=lambda r: r.start_ns, reverse=True)[:MAX_ROWS]
    table = "".join(
        f"<tr><td>{_e(_when(r.start_ns, '%Y-%m-%d %H:%M:%S'))}</td><td>{_e(r.name)}</td>"
        f'<td style="color:{_colour(r.outcome)}">{_e(r.outcome)}</td><td>{_e(r.exit_code)}</td>'
        f"<td>{r.duration_ms:.1f} ms</td><td>{_e(r.where)}</td></tr>"
        for r in latest
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Telemetry of {_e(app_name)}</title><style>{_STYLE}</style></head><body>
<h1>What {_e(app_name)} recorded on this machine</h1>
<p>Telemetry is <b>{_e(mode)}</b>. {len(rows)} command(s) shown: those recorded to the local
file and those waiting to be sent. Traces already delivered elsewhere are not kept here; the
next table counts them. Generated {_e(_when(generated_ns, "%Y-%m-%d %H:%M:%S"))}.</p>
<h2>Where it goes</h2>
<table><tr><th>destination</th><th>delivered so far</th><th>waiting</th></tr>{dest_rows}</table>
<h2>Commands over time</h2><div class="legend">{legend}</div>{over_time(rows)}
<h2>Outcomes</h2>{outcomes(rows)}
<h2>Durations</h2>{durations(rows)}
<h2>Latest commands</h2>
<table><tr><th>when</th><th>command</th><th>outcome</th><th>exit</th><th>duration</th>
<th>where</th></tr>{table}</table>
<h2>Every field that can be sent</h2><pre>{_e(disclosure)}</pre>
</body></html>
"""
