"""What each admin command does (``do_status`` ... ``do_view``), named by ``commands``'
table and loaded only when one runs, with ``guarded``, which turns an unusable state
directory into one line on stderr. Imports neither ``commands`` nor ``cli``: both read it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from otel_cli_telemetry._admin.show import do_show

if TYPE_CHECKING:
    from collections.abc import Callable

    from otel_cli_telemetry.telemetry import Telemetry

__all__ = ["do_show"]


def do_status(telemetry: Telemetry, out: TextIO) -> int:
    for line in telemetry.status().lines():
        out.write(line + "\n")
    return 0


def do_enable(telemetry: Telemetry, out: TextIO) -> int:
    decision = telemetry.enable()
    out.write(
        f"Telemetry enabled for {telemetry.app_name} (saved to {telemetry.paths.config_file}).\n"
    )
    if not decision.enabled:
        out.write(f"Note: still off for now, because {decision.detail}.\n")
    return 0


def _deleted(spans: int, traces: int) -> str:
    if not traces:
        return "Nothing was waiting to be sent."
    return f"Deleted {spans} span(s) ({traces} trace(s)) that were waiting to be sent."


def do_disable(telemetry: Telemetry, out: TextIO) -> int:
    change = telemetry.disable()
    out.write(
        f"Telemetry disabled for {telemetry.app_name} (saved to {telemetry.paths.config_file}).\n"
        f"{_deleted(change.deleted_spans, change.deleted_traces)}\n"
        "Nothing will be recorded, written or sent. DO_NOT_TRACK=1 does the same for every tool.\n"
    )
    return 0


def do_local(telemetry: Telemetry, out: TextIO) -> int:
    change = telemetry.local()
    out.write(
        f"Telemetry is local only for {telemetry.app_name} (saved to "
        f"{telemetry.paths.config_file}).\n"
        f"{_deleted(change.deleted_spans, change.deleted_traces)}\n"
        f"Commands are recorded to {telemetry.paths.sink_file} and never sent; "
        "`show` prints them.\n"
    )
    if change.mode != "local":
        out.write(f"Note: {change.mode} for now, because {change.detail}.\n")
    return 0


def do_reset(telemetry: Telemetry, out: TextIO) -> int:
    removed = telemetry.reset()
    out.write(
        f"Forgot this installation of {telemetry.app_name}: "
        + (", ".join(removed) if removed else "nothing was stored")
        + ".\nA new anonymous id is made on the next recorded command. Your choice is kept "
        f"in {telemetry.paths.config_file}.\n"
    )
    return 0


def do_disclosure(telemetry: Telemetry, out: TextIO, *, every: bool = False) -> int:
    out.write(telemetry.disclosure(every_destination=every))
    return 0


def do_flush(telemetry: Telemetry, out: TextIO, *, timeout: float | None = None) -> int:
    """Drain in the foreground; exit code 1 if anything is still waiting afterwards."""
    interactive = _isatty(out)

    def progress(report: object) -> None:
        if interactive:  # a live progress line only where a person watches
            out.write(f"\rdelivered {getattr(report, 'delivered', 0)} trace(s)...")
            out.flush()

    try:
        report = telemetry.flush(timeout, progress=progress)
    except OSError:
        raise  # the state directory cannot be used: ``guarded`` says so in one line
    except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
        from otel_cli_telemetry._disk import delivery

        paths = telemetry._state_paths
        delivery.record_failure(paths.delivery_file, paths.state_lock, exc, "flush")
        out.write(
            ("\r" if interactive else "")
            + f"flush: failed ({exc.__class__.__name__}); everything is still waiting\n"
        )
        return 1
    dropped = sum(report.dropped.values())
    from otel_cli_telemetry._disk.urls import redact_text

    out.write(
        ("\r" if interactive else "") + f"flush: delivered {report.delivered}, dropped {dropped}, "
        f"still waiting {report.remaining}"
        + (f" (last error: {redact_text(report.last_error)})" if report.last_error else "")
        + "\n"
    )
    return 0 if report.remaining == 0 else 1


def do_view(telemetry: Telemetry, out: TextIO, **options: Any) -> int:
    from otel_cli_telemetry._admin import view  # loaded only when asked for

    return view.do_view(telemetry, out, **options)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


#: The exit code of an admin command that could not use the state directory.
DISK_ERROR_EXIT = 1


def guarded(name: str, run: Callable[..., int]) -> Callable[..., int]:
    """``run``, with a state directory it cannot use (a file where a directory should be,
    no permission, an unsafe parent) reported as one line on stderr and exit code
    ``DISK_ERROR_EXIT``, never a traceback. In every admin surface: they all call ``run``."""

    def guarded_run(telemetry: Telemetry, out: TextIO, **options: Any) -> int:
        try:
            code: int = run(telemetry, out, **options)
            return code
        except BrokenPipeError:
            raise  # the reader went away: ``main`` ends quietly
        except OSError as exc:  # UnsafeHomeError is one too
            problem = f"cannot use {exc.filename}: {exc.strerror}" if exc.strerror else str(exc)
            out.flush()
            sys.stderr.write(f"telemetry {name}: {problem}\n")
            sys.stderr.flush()
            return DISK_ERROR_EXIT

    guarded_run.__name__ = guarded_run.__qualname__ = getattr(run, "__name__", name)
    guarded_run.__doc__ = run.__doc__
    return guarded_run
