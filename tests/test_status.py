"""``status``: every count the delivery state keeps is shown, so no loss goes unseen."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from otel_cli_telemetry import Telemetry
from otel_cli_telemetry._disk import delivery, state
from otel_cli_telemetry._exporter.drain import drain
from tests.collector import OtlpReceiver, ScriptedResponse
from tests.test_exporter import otlp, paths_for, spool_commands


def status_text(home: Path) -> str:
    return "\n".join(Telemetry("assembly", home=home, env={}).status().lines())


def test_every_field_of_the_delivery_state_is_shown(home: Path) -> None:
    """Each field ``delivery.json`` keeps has its line in ``status``: a new count that
    ``status`` does not show fails here."""
    later = time.time() + 600

    def fill(s: delivery.DeliveryState) -> None:
        s.delivered = 7
        s.attempts = 11
        s.exporter_runs = 3
        s.failures = 2
        s.set_backoff(600, later - 600)
        s.last_error = "http_503"
        s.add_drops({"refused_http_400": 4, "cap_count": 1})
        s.mark_reported({"cap_count": 1})
        s.takeovers = 5
        s.exporter_failure = {"type": "OSError", "step": "linger", "at": 0}

    state.ensure_dir(home)
    paths = paths_for(home)
    delivery.update(paths.delivery_file, paths.state_lock, fill)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(later))
    shown = {
        "delivered": "delivered so far: 7",
        "attempts": "export requests so far: 11",
        "exporter_runs": "(exporter runs: 3)",
        "failures": "failed attempts in a row: 2",
        "next_attempt_at": f"next attempt after {when}",
        "backoff_written_at": "(back-off set at "
        + time.strftime("%H:%M:%S", time.localtime(later - 600)),
        "last_error": "last delivery error: http_503",
        "dropped": "dropped: cap_count=1, refused_http_400=4",
        "unreported": "(4 not yet reported on a delivered span)",
        "takeovers": "stopped exporters taken over: 5",
        "exporter_failure": "last exporter failure: OSError during linger",
    }
    assert set(shown) == set(delivery.DeliveryState().to_json())
    text = status_text(home)
    for field, line in shown.items():
        assert line in text, field


def test_a_fresh_state_shows_no_counts(home: Path) -> None:
    """A fresh state's status shows no delivery, request, failure or drop counts."""
    text = status_text(home)
    for word in ("delivered so far", "export requests", "failed attempts", "dropped:"):
        assert word not in text


def test_a_failing_destination_shows_its_back_off(home: Path) -> None:
    """After a run that met only 503s: the attempts, the back-off and the error, as the
    exporter left them (the retries slept through the drain's hook)."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with OtlpReceiver([ScriptedResponse(503)] * 4) as server:
        spool_commands(home, ["a"])
        report = drain(
            paths_for(home), otlp(server.url), deadline_s=600, clock=lambda: now[0], sleep=sleep
        )
        assert len(server.requests) == 4
    assert report.backing_off
    text = status_text(home)
    assert "export requests so far: 4 (exporter runs: 0)" in text
    assert "failed attempts in a row: 4, next attempt after " in text
    assert "last delivery error: http_503" in text
    assert "spooled traces waiting: 1" in text


def test_each_destination_shows_its_own_queue(home: Path) -> None:
    """With two destinations, each queue's delivery state has its own lines in ``status``
    (the second queue's losses are not hidden behind the first's), and its file is listed
    among what is kept on disk."""
    from otel_cli_telemetry import OTLP, PostHog
    from otel_cli_telemetry._disk import destination as destination_mod

    telemetry = Telemetry(
        "assembly",
        home=home,
        env={},
        destinations=[OTLP("http://127.0.0.1:9"), PostHog("phc_" + "a" * 40)],
    )
    state.ensure_dir(home)
    (first, _), (second, _) = destination_mod.queues(
        telemetry._state_paths, telemetry._resolved_destinations()
    )

    def dropped(reason: str) -> Callable[[delivery.DeliveryState], None]:
        return lambda s: s.add_drops({reason: 2})

    delivery.update(first.delivery_file, first.state_lock, dropped("refused_http_400"))
    delivery.update(second.delivery_file, second.state_lock, dropped("refused_http_413"))
    status = telemetry.status()
    lines = status.lines()
    headers = [i for i, line in enumerate(lines) if not line.startswith(" ") and line.endswith(":")]
    names = [lines[i] for i in headers if "OTLP" in lines[i] or "PostHog" in lines[i]]
    assert len(names) == 2, lines
    text = "\n".join(lines)
    assert "  dropped: refused_http_400=2" in text
    assert "  dropped: refused_http_413=2" in text
    assert second.delivery_file in [where for _, where in status.kept]


def test_losses_waiting_as_tally_files_are_shown(home: Path) -> None:
    """On a full disk losses are kept as empty tally files until ``delivery.json`` can be
    written: ``status`` counts them meanwhile (it reads, it never folds them in)."""
    state.ensure_dir(home)
    paths = paths_for(home)
    stem = Path(paths.delivery_file).stem
    for n in range(3):
        (home / f"{delivery.TALLY_PREFIX}{stem}~spool_write_OSError~{n}-1").touch()
    assert "dropped: spool_write_OSError=3" in status_text(home)
    assert len(list(home.glob(f"{delivery.TALLY_PREFIX}*"))) == 3  # left for the next write


def test_a_trace_lost_to_an_internal_error_is_counted(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug of ours while recording never reaches the command, and the lost trace is
    counted where ``status`` shows it."""
    from otel_cli_telemetry._process import recorder

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(recorder.CommandSpan, "finish", broken)
    telemetry = Telemetry("assembly", home=home, env={}, spawn=lambda *a, **k: None)
    with telemetry.command("run") as handle:
        handle.exit_code = 3
    assert "dropped: internal_KeyError=1" in status_text(home)


def test_a_trace_that_cannot_reach_a_second_queue_is_counted_there(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each destination has its own queue (a hard link per trace); when the link fails
    that destination never gets the trace, and its queue counts the loss."""
    import errno
    import os

    from otel_cli_telemetry import OTLP, PostHog
    from otel_cli_telemetry._disk import enqueue

    def cross_device(*args: object) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(enqueue, "link", cross_device)
    telemetry = Telemetry(
        "assembly",
        home=home,
        env={},
        spawn=lambda *a, **k: None,
        destinations=[OTLP("http://127.0.0.1:9"), PostHog("phc_" + "a" * 40)],
    )
    with telemetry.command("run"):
        pass
    lines = telemetry.status().lines()
    posthog = next(i for i, line in enumerate(lines) if line.startswith("PostHog"))
    assert (
        lines[posthog + 1]
        == "  dropped: spool_link_OSError=1 (1 not yet reported on a delivered span)"
    )
    assert "spool_link" not in "\n".join(lines[:posthog])  # the first queue got its trace
