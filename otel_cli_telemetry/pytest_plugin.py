"""The pytest plugin of the test kit (registered through the ``pytest11`` entry point, so an
installed package needs no conftest line).

Isolation by default: in a session where the package is installed, no test records to the
real home or starts an exporter. Each test runs inside ``capture_spans()`` (its spans stay
in memory, readable through ``cli_telemetry``), exporter starts are blocked, and the
platform directories the library would use are replaced by a session temporary directory
(an explicit ``home=`` or ``{PREFIX}_TELEMETRY_HOME`` still wins).

- ``@pytest.mark.telemetry_delivery``: this test records and delivers for real.
- ``otel_cli_telemetry_isolate = false`` (ini option): no isolation for the whole session.

Fixtures:

- ``cli_telemetry``: the spans the test's commands would send (see ``CapturedSpans``); clears
  the opt-out variables for the test so that telemetry is on unless the test turns it off.
- ``telemetry_spy``: records (and blocks) exporter starts and socket connections, to prove
  that a disabled run does nothing.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from otel_cli_telemetry._process import launcher
from otel_cli_telemetry.testing import OPT_OUTS, CapturedSpans, TelemetrySpy, capture_spans

__all__ = ["cli_telemetry", "telemetry_spy"]

ISOLATE_INI = "otel_cli_telemetry_isolate"
DELIVERY_MARKER = "telemetry_delivery"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        ISOLATE_INI,
        type="bool",
        default=True,
        help="otel-cli-telemetry: capture every test's telemetry in memory (default true)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{DELIVERY_MARKER}: otel-cli-telemetry records and delivers this test's telemetry "
        "for real instead of capturing it",
    )


def _isolating(config: pytest.Config) -> bool:
    return bool(config.getini(ISOLATE_INI))


@pytest.fixture(scope="session", autouse=True)
def _otel_cli_telemetry_home(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The default telemetry directories of every app point into one session temp dir."""
    if not _isolating(request.config):
        yield
        return
    from otel_cli_telemetry._disk import state

    base = tmp_path_factory.mktemp("otel-cli-telemetry")

    def user_dirs(app_name: str, env: Any) -> tuple[str, str]:
        return str(base / "state" / app_name), str(base / "config" / app_name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state, "user_dirs", user_dirs)
        yield


@pytest.fixture(autouse=True)
def _otel_cli_telemetry_capture(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CapturedSpans | None]:
    """Every test captures its telemetry unless marked ``telemetry_delivery``."""
    if not _isolating(request.config) or request.node.get_closest_marker(DELIVERY_MARKER):
        yield None
        return

    def no_exporter(paths: Any, env: Any, *, spawn: Any = None) -> int | None:
        return None

    monkeypatch.setattr(launcher, "start", no_exporter)
    with capture_spans() as captured:
        yield captured


@pytest.fixture
def cli_telemetry(
    monkeypatch: pytest.MonkeyPatch, _otel_cli_telemetry_capture: CapturedSpans | None
) -> Iterator[CapturedSpans]:
    """Spans your commands would send, captured in memory; nothing leaves the test."""
    for name in OPT_OUTS:
        monkeypatch.delenv(name, raising=False)
    if _otel_cli_telemetry_capture is not None:
        yield _otel_cli_telemetry_capture
        return
    with capture_spans() as captured:
        yield captured


@pytest.fixture
def telemetry_spy(monkeypatch: pytest.MonkeyPatch) -> TelemetrySpy:
    """Record (and block) exporter starts and socket connections during the test."""
    spy = TelemetrySpy()

    def fake_start(paths: Any, env: Any, *, spawn: Any = None) -> int | None:
        spy.exporters_started.append(launcher.argv())
        return None

    real_connect = socket.socket.connect

    def recording_connect(self: socket.socket, address: Any) -> None:
        spy.connections.append(address)
        real_connect(self, address)

    monkeypatch.setattr(launcher, "start", fake_start)
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    return spy
