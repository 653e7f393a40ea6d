"""The detached exporter child: ``python -m otel_cli_telemetry._exporter.child``.

It owns the exporter marker (see ``coordination``), drains every destination's queue (see
``drain``), lingers a moment for the next command's trace, and exits by its hard deadline
whatever the network does. It never prints: its stdio is /dev/null.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from otel_cli_telemetry._disk import delivery, spool, state
from otel_cli_telemetry._disk import destination as destination_mod
from otel_cli_telemetry._disk import marker as coordination
from otel_cli_telemetry._exporter.drain import SPOOL_STUCK, Report, drain, progress_of
from otel_cli_telemetry._process import consent

#: How long a child stays, idle, for the next command's trace before it exits.
LINGER_S = 1.0
LINGER_POLL_S = 0.05
HOME_ENV = "OTEL_CLI_TELEMETRY_HOME_DIR"
#: Shortens the linger (tests, packagers); the launcher passes it on only when it is set.
LINGER_ENV = "OTEL_CLI_TELEMETRY_LINGER_S"


def linger_from_env(env: Mapping[str, str]) -> float:
    """The linger ``LINGER_ENV`` asks for, clamped to ``[0, LINGER_S]``: it can only
    shorten the wait, never lengthen it; anything that is not a finite number is ignored."""
    try:
        seconds = float(env.get(LINGER_ENV, ""))
    except ValueError:
        return LINGER_S
    if seconds != seconds:  # NaN
        return LINGER_S
    return min(max(seconds, 0.0), LINGER_S)


def _arm_hard_deadline(seconds: float) -> None:
    """Whatever happens (a hung DNS lookup, a stuck TLS handshake), exit in time."""
    timer = threading.Timer(seconds, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


def _settle() -> None:
    """Leave the launching command's working directory (the root keeps no mount busy and
    was never on sys.path: see ``launcher``), and close descriptors a host let us inherit,
    so a shell capturing the command's output never waits for us."""
    with contextlib.suppress(OSError):
        os.chdir(os.path.abspath(os.sep))
    if sys.platform != "win32":
        os.closerange(3, 256)


#: What the child is doing, for the failure record (``status`` shows it).
_step = "start"


def _at(step: str) -> None:
    global _step
    _step = step


def main() -> int:
    """Entry point of the detached child. Never prints; its stdio is /dev/null anyway.

    Exit codes: 0 done, 1 crashed (recorded in the delivery state for ``status``),
    2 no usable state dir (missing, relative, or not ours to trust: nothing is read).
    """
    home = os.environ.get(HOME_ENV)
    if not home or not os.path.isabs(home):
        return 2
    _settle()
    paths = state.Paths(home=Path(home), config_dir=Path(home))
    try:
        # Checked again here, where it is read: the CLI's check was another process's.
        if not state.check_dir(paths.home):
            return 2
    except (OSError, ValueError):
        return 2
    try:
        _at("load_destinations")
        destinations = destination_mod.load(paths.destination_file)
        _arm_hard_deadline(destinations[0].deadline_s + 1.0)
        run_child(paths, destinations, linger_s=linger_from_env(os.environ))
    except Exception as exc:  # noqa: BLE001 - the edge: a child has nobody to report to
        delivery.record_failure(paths.delivery_file, paths.state_lock, exc, _step)
        return 1
    return 0


Queue = tuple[state.Paths, destination_mod.Destination]


def consent_check(
    paths: state.Paths, dest: destination_mod.Destination, env: dict[str, str] | None = None
) -> Callable[[], str | None]:
    """What ``drain`` asks before each batch: consent decided again, now, from the
    environment we were given (the launching command's consent variables, left in
    ``consent.json``, then our own), the persisted choice and the machine policy. A reason
    means this queue may no longer be sent."""
    own = dict(os.environ) if env is None else env

    def withdrawn() -> str | None:
        from otel_cli_telemetry._disk import forget

        saved = consent.load_context(os.path.join(paths.home, forget.CONSENT_FILE))
        return consent.withdrawn(consent.recheck(saved, own), dest.kind)

    return withdrawn


def _count_run(s: delivery.DeliveryState) -> None:
    s.exporter_runs += 1


def _work_waiting(items: list[Queue], blocked: set[str], wall: Callable[[], float]) -> bool:
    """True if some destination that may send now has spooled traces."""
    for queue_paths, _ in items:
        if queue_paths.queue in blocked:
            continue
        if spool.entries(queue_paths.spool_dir) and not delivery.load(
            queue_paths.delivery_file
        ).in_backoff(wall()):
            return True
    return False


def run_child(
    paths: state.Paths,
    destinations: list[destination_mod.Destination],
    *,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    linger_s: float = LINGER_S,
) -> Report | None:
    """The child's life: own the marker, drain every destination's queue, linger a moment
    for more work (a CLI run in a loop then needs one child, not one per command), give
    the marker up, look once more."""
    _at("adopt_marker")
    marker = coordination.ChildMarker(paths, deadline_s=destinations[0].deadline_s)
    if not marker.adopt():
        return None  # another child owns the marker and will do the work
    items = destination_mod.queues(paths, destinations)
    end = clock() + destinations[0].deadline_s
    total = Report()
    blocked: set[str] = set()  # queues whose sent files cannot be deleted
    delivery.update_quietly(paths.delivery_file, paths.state_lock, _count_run)
    try:
        while True:
            before = progress_of(total)
            for queue_paths, dest in items:
                remaining = end - clock()
                if remaining <= 0 or queue_paths.queue in blocked:
                    continue
                # Wait for a drainer that is finishing (a foreground flush, a child on its
                # way out) rather than leave: nobody else starts while we hold the marker.
                _at(f"drain:{dest.kind}")
                report = drain(
                    queue_paths,
                    dest,
                    deadline_s=remaining,
                    lock_wait_s=remaining,
                    withdrawn=consent_check(paths, dest),
                )
                if report.last_error == SPOOL_STUCK:
                    blocked.add(queue_paths.queue)
                total.merge(report)
            _at("linger")
            stalled = progress_of(total) == before and _work_waiting(items, blocked, wall)
            if not stalled and _linger(
                items, blocked, min(linger_s, end - clock() - 0.5), clock, wall, sleep
            ):
                continue
            marker.give_up()
            if (
                stalled
                or end - clock() < 0.2
                or not _work_waiting(items, blocked, wall)
                or not marker.reclaim()
            ):
                return total
    finally:
        marker.give_up()


def _linger(
    items: list[Queue],
    blocked: set[str],
    seconds: float,
    clock: Callable[[], float],
    wall: Callable[[], float],
    sleep: Callable[[float], None],
) -> bool:
    """Wait up to ``seconds`` for new work; True if some arrived."""
    until = clock() + seconds
    while clock() < until:
        if _work_waiting(items, blocked, wall):
            return True
        sleep(LINGER_POLL_S)
    return False


if __name__ == "__main__":
    sys.exit(main())
