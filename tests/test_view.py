"""``telemetry view``: one self-contained HTML page (inline SVG charts, no script, no
network), from every admin surface, everything from disk escaped, and drawn for real in a
headless Chromium whose screenshot must show the charts."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._admin import view, view_html
from tests.conftest import cli_env, run_example, wait_for_exporters

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def request(name: str, outcome: str, code: int, start_s: int, duration_ms: float) -> dict:
    """One OTLP/JSON request holding one command span."""
    attrs = [
        {"key": "process.exit.code", "value": {"intValue": str(code)}},
        {"key": "cli_telemetry.outcome", "value": {"stringValue": outcome}},
        {"key": "cli_telemetry.duration_ms", "value": {"doubleValue": duration_ms}},
    ]
    span = {
        "name": name,
        "traceId": "0" * 31 + "1",
        "spanId": "0" * 15 + "1",
        "startTimeUnixNano": str(start_s * 10**9),
        "endTimeUnixNano": str(start_s * 10**9 + int(duration_ms * 1e6)),
        "attributes": attrs,
    }
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}


def test_the_page_escapes_everything_and_loads_nothing() -> None:
    """Span names and values from disk cannot inject markup; no script, no URL to fetch,
    a Content-Security-Policy that forbids both."""
    rows = view.rows_of(
        [
            request(HOSTILE, HOSTILE, 1, 1_700_000_000, 12.5),
            request("app ok", "success", 0, 1_700_003_600, 3.0),
            {"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": "bad"}]}]}]},
        ],
        "local file",
    )
    page = view_html.page(HOSTILE, rows, [(HOSTILE, 3, 1)], "on", HOSTILE, 1_700_000_000 * 10**9)
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "x onerror=alert(2)>" not in page  # only as text: ``&gt;``, inside no tag
    assert "default-src 'none'" in page
    urls = [part for part in page.split('"') if part.startswith(("http:", "https:", "//"))]
    assert set(urls) <= {"http://www.w3.org/2000/svg"}  # a namespace name, never fetched
    assert "&lt;script&gt;" in page
    assert page.count("<svg") == 3


def test_buckets_stay_bounded_over_a_long_history() -> None:
    """A year of commands still draws at most ``MAX_BUCKETS`` bars."""
    rows = [
        view_html.Row(1_600_000_000 * 10**9 + day * 86400 * 10**9, "a", "success", 0, 1.0, "x")
        for day in range(365)
    ]
    assert view_html.over_time(rows).count("<rect") <= view_html.MAX_BUCKETS


@pytest.mark.parametrize(
    ("script", "prefix"),
    [("click_cli.py", "NOTES"), ("typer_cli.py", "ASSEMBLY"), ("argparse_cli.py", "TASKS")],
)
def test_view_from_every_example(home: Path, script: str, prefix: str) -> None:
    """``telemetry view`` in the click, typer and argparse examples writes a 0600 page and
    prints its path; nothing is recorded for the view itself."""
    proc = run_example(script, "telemetry", "view", env=cli_env(home))
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path == home / "view.html"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "<svg" in path.read_text() or "No commands yet" in path.read_text()
    assert not (home / "traces.jsonl").exists()


def test_view_from_the_module_cli_opens_a_browser(home: Path, tmp_path: Path) -> None:
    """``python -m otel_cli_telemetry ... view --open --output F``: writes F, hands its
    file URL to the browser ``$BROWSER`` names (here a recorder)."""
    seen = tmp_path / "opened.txt"
    recorder = tmp_path / "browser.py"
    recorder.write_text(f"import sys\nopen({str(seen)!r}, 'w').write(sys.argv[1])\n")
    out = tmp_path / "page.html"
    env = cli_env(home, BROWSER=f"{sys.executable} {recorder} %s", DISPLAY="")
    proc = subprocess.run(
        [sys.executable, "-m", "otel_cli_telemetry", "--service", "demo", "--home", str(home),
         "view", "--open", "--output", str(out)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == str(out)
    assert seen.read_text() == out.as_uri()
    assert "What demo recorded" in out.read_text()


def test_reset_forgets_the_page(home: Path) -> None:
    """The page shows what was recorded: ``reset`` deletes it with the rest."""
    telemetry = Telemetry("demo", home=home, env={})
    from otel_cli_telemetry._admin.view import do_view

    with open(os.devnull, "w") as sink:
        do_view(telemetry, sink)
    assert (home / "view.html").exists()
    assert "view.html" in telemetry.reset()


# --- in a real browser ---------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, width, height, channels = 8, b"", 0, 0, 0
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, interlace) == (8, 0)
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line) if channels == 3 else bytes(
            b for i in range(0, stride, 4) for b in line[i : i + 3]
        ))  # fmt: skip
        previous = line
    return width, height, rows


def count_colour(rows: list[bytes], hex_colour: str) -> int:
    rgb = bytes.fromhex(hex_colour.lstrip("#"))
    return sum(
        1 for row in rows for i in range(0, len(row), 3) if row[i : i + 3] == rgb
    )  # fmt: skip


def chromium_or_skip() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's `chromium`)")
    return found


def test_the_page_draws_its_charts_in_headless_chromium(home: Path, tmp_path: Path) -> None:
    """Commands of the real click example (a success, usage errors), delivered to the local
    file, then ``telemetry view``: Chromium's screenshot shows each chart's colours."""
    browser = chromium_or_skip()
    env = cli_env(home)
    for args in (["add", "milk"], ["add", "eggs"], ["remove"]):
        run_example("click_cli.py", *args, env=env)
    wait_for_exporters(home)
    assert run_example("click_cli.py", "telemetry", "flush", env=env).returncode == 0
    page = Path(run_example("click_cli.py", "telemetry", "view", env=env).stdout.strip())
    shot = tmp_path / "view.png"
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={shot}",
         "--window-size=1200,900", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if not shot.exists():
        pytest.skip(f"chromium could not take a screenshot here: {proc.stderr[-300:]}")
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 900)
    # Bars of the time chart and the outcome chart (success, usage_error), and durations.
    assert count_colour(rows, view_html.COLOURS["success"]) > 2000
    assert count_colour(rows, view_html.COLOURS["usage_error"]) > 1000
    assert count_colour(rows, view_html.DURATION_COLOUR) > 1000
    assert count_colour(rows, view_html.COLOURS["internal_error"]) < 200  # legend swatch only
