"""The detached exporter child: ``launcher.argv()`` runs ``main`` (``python -m`` works too).

It owns the exporter marker (see ``marker``), drains every destination's queue (see
``drain``), stays asleep for the next commands' traces (``LINGER_S`` after its last work),
starts its successor when its deadline leaves work waiting (see ``successor``), and exits
by its hard deadline whatever the network does. It never prints: its stdio is
/dev/null.

Why it stays: a CLI used at an interactive pace (a command every second or two) would
otherwise start one exporter per command, each paying Python's start-up and its imports;
staying, one exporter serves a whole burst. Its wait is nearly free: every
``LINGER_POLL_S`` it stats the spool directories and ``destination.json`` (their mtimes
change when a command spools a trace or changes destinations), and lists a spool or reads
the delivery state only after such a change.
"""

from __future__ import annotations

import os
import sys
import time

from otel_cli_telemetry._disk import (
    child_marker,
    consent,
    contract,
    delivery,
    inventory,
    state,
)
from otel_cli_telemetry._disk import destination as destination_mod
from otel_cli_telemetry._exporter.batch import MIN_ATTEMPT_S
from otel_cli_telemetry._exporter.drain import SPOOL_STUCK, drain
from otel_cli_telemetry._exporter.run import Report, progress_of
from otel_cli_telemetry._exporter.watch import Queue, Watch, unusable, work_waiting

# Only what the child runs is imported: no ``typing``, ``pathlib``, ``threading`` or
# ``contextlib`` (together about half of what a lean CLI command costs); see
# ``tests/test_child_cost.py``.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

#: How long a child stays, idle, for the next command's trace before it exits (bounded by
#: its deadline, 10 s from its start by default): a command within this of the last one
#: finds it awake, and its span leaves within ``LINGER_POLL_S``.
LINGER_S = 3.0
#: How often an idle child stats the spool directories (a few stat calls, no listing).
LINGER_POLL_S = 0.25
HOME_ENV = contract.HOME_ENV
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


#: What reaching the hard deadline is recorded as (``status``: "last exporter failure").
DEADLINE_EXCEEDED = "DeadlineExceeded"


def _arm_hard_deadline(seconds: float, on_deadline: Callable[[], None] | None = None) -> None:
    """Whatever happens (a hung DNS lookup, a stuck TLS handshake), exit in time; first
    record it (``on_deadline``, best effort: a second timer exits a moment later anyway)."""

    # ``_thread``, not ``threading`` (built in: nothing to import). Its threads never hold
    # the interpreter's exit, as a daemon ``threading.Timer`` would not.
    import _thread

    def record_and_exit() -> None:
        time.sleep(seconds)
        try:
            if on_deadline is not None:
                on_deadline()
        except Exception:  # noqa: BLE001, S110 - best effort: the exit below is what counts
            pass
        os._exit(0)

    def exit_anyway() -> None:
        time.sleep(seconds + 1.0)
        os._exit(0)

    _thread.start_new_thread(record_and_exit, ())
    _thread.start_new_thread(exit_anyway, ())


def _record_failure(
    paths: state.Paths,
    destinations: list[destination_mod.Destination] | None,
    error: BaseException | str,
) -> None:
    """A failure of the run, recorded in every queue's delivery state with a back-off: no
    exporter starts per command while it holds (``launcher.should_start``)."""
    queue_files = [q.delivery_file for q, _ in destination_mod.queues(paths, destinations or [])]
    for path in queue_files or [paths.delivery_file]:
        delivery.record_failure(path, paths.state_lock, error, _step)


def _settle() -> None:
    """Leave the launching command's working directory (the root keeps no mount busy and
    was never on sys.path: see ``launcher``), and close descriptors a host let us inherit,
    so a shell capturing the command's output never waits for us."""
    try:  # noqa: SIM105 - contextlib.suppress would import contextlib
        os.chdir(os.path.abspath(os.sep))
    except OSError:
        pass
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
    paths = state.Paths(home=home, config_dir=home)
    try:
        # Checked again here, where it is read: the CLI's check was another process's.
        if not state.check_dir(paths.home):
            return 2
    except (OSError, ValueError):
        return 2
    destinations: list[destination_mod.Destination] | None = None
    try:
        _at("load_destinations")
        # Each queue goes to the destination it was recorded for, and nowhere else.
        destinations = [dest for _, dest in inventory.recorded(paths)]
        if not destinations:
            return 0
        loaded = destinations
        _arm_hard_deadline(
            destinations[0].deadline_s + 1.0,
            lambda: _record_failure(paths, loaded, DEADLINE_EXCEEDED),
        )
        run_child(paths, destinations, linger_s=linger_from_env(os.environ), successor=_successor)
    except Exception as exc:  # noqa: BLE001 - the edge: a child has nobody to report to
        _record_failure(paths, destinations, exc)
        return 1
    return 0


def consent_check(
    paths: state.Paths, dest: destination_mod.Destination, env: dict[str, str] | None = None
) -> Callable[[dict[str, Any] | None], str | None]:
    """What ``drain`` asks of each trace before every attempt (``consent.may_send``): may
    it still go to this queue's destination? The narrower of the decision it was queued
    with and consent decided again now, from the environment the command recorded, our
    own, the persisted choice and the machine policy. A reason means it may not."""
    own = dict(os.environ) if env is None else env
    queue = destination_mod.queue_id(dest)
    legacy: list[dict[str, object] | None] = []

    def why_not(decision: dict[str, Any] | None) -> str | None:
        if decision is None and not legacy:  # an earlier version's trace: its last context
            legacy.append(consent.load_context(os.path.join(paths.home, contract.CONSENT_FILE)))
        return consent.may_send(decision, queue, dest.kind, own, legacy[0] if legacy else None)

    return why_not


def _successor(paths: state.Paths) -> int | None:
    """Start the next exporter (``successor``, loaded only here: most runs never need it)."""
    from otel_cli_telemetry._exporter import successor as successor_mod

    return successor_mod.start(paths)


def _count_run(s: delivery.DeliveryState) -> None:
    s.exporter_runs += 1


def run_child(
    paths: state.Paths,
    destinations: list[destination_mod.Destination],
    *,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    linger_s: float = LINGER_S,
    successor: Callable[[state.Paths], int | None] | None = None,
) -> Report | None:
    """The child's life: own the marker, drain every destination's queue, linger a moment
    for more work (a CLI run in a loop then needs one child, not one per command), give
    the marker up, look once more: carry on if work waits, or, out of time, start the
    next exporter for it (``successor``: ``main`` passes ``_exporter.successor.start``,
    which starts a process like this one; called in any other process, none is started)."""
    _at("adopt_marker")
    marker = child_marker.ChildMarker(paths, deadline_s=destinations[0].deadline_s)
    if not marker.adopt():
        return None  # another child owns the marker and will do the work
    items = destination_mod.queues(paths, destinations)
    end = clock() + destinations[0].deadline_s
    total = Report()
    # Queues whose sent files cannot be deleted, and those of a destination that cannot be
    # used (its traces wait, and ``status`` says why).
    blocked = unusable(items)
    delivery.update_quietly(paths.delivery_file, paths.state_lock, _count_run)
    attempted: set[str] = set()  # queues this run has sent to (a later pass needs time)
    try:
        while True:
            before = progress_of(total)
            late = _drain_all(paths, items, blocked, attempted, end, clock, total)
            _at("linger")
            stalled = progress_of(total) == before and work_waiting(items, blocked, wall)
            if not stalled:
                watch = Watch(paths, items, _at)
                seconds = min(linger_s, end - clock() - 0.5)
                more = watch.wait(blocked, seconds, LINGER_POLL_S, clock, wall, sleep)
                items = watch.items
                blocked |= unusable(items)
                if more:
                    continue
            marker.give_up()
            # The last look, at every queue: one recorded while we drained is news too.
            items = inventory.recorded(paths) or items
            blocked |= unusable(items)
            if not work_waiting(items, blocked, wall):
                return total
            out_of_time = end - clock() < 0.2
            if not (stalled or out_of_time) and marker.reclaim():
                continue
            if (late or out_of_time) and attempted:
                # Out of time, not stuck (this run sent, so each successor sends or backs
                # off): what waits was spooled while we held the marker, so no command
                # started an exporter for it.
                _at("successor")
                if successor is not None:
                    successor(paths)
            return total
    finally:
        marker.give_up()


def _drain_all(
    paths: state.Paths,
    items: list[Queue],
    blocked: set[str],
    attempted: set[str],
    until: float,
    clock: Callable[[], float],
    total: Report,
) -> bool:
    """One pass over the queues, each drained with the time left before ``until``. True if
    a queue was left for lack of time: once this run has sent a request (``attempted``:
    the queues it sent to), any when too little is left for another (it could be cut short,
    counted as a failure and sent twice: the successor sends it), or any when no time is
    left at all. A run's first request always goes, whatever the deadline."""
    late = False
    for queue_paths, dest in items:
        remaining = until - clock()
        if queue_paths.queue in blocked:
            continue
        if remaining <= 0 or (attempted and remaining < min(dest.timeout_s, MIN_ATTEMPT_S)):
            late = True
            continue
        # Wait for a drainer that is finishing (a foreground flush, a child on its way
        # out) rather than leave: nobody else starts while we hold the marker.
        _at(f"drain:{dest.kind}")
        report = drain(
            queue_paths,
            dest,
            deadline_s=remaining,
            lock_wait_s=remaining,
            withdrawn=consent_check(paths, dest),
        )
        if report.attempts:
            attempted.add(queue_paths.queue)
        if report.last_error == SPOOL_STUCK:
            blocked.add(queue_paths.queue)
        total.merge(report)
    return late


if __name__ == "__main__":
    sys.exit(main())
