"""Exit-code mapping: what escaped a command decides its exit code, outcome and error.type."""

from __future__ import annotations

import click
import pytest
import typer

from otel_cli_telemetry._process import command


class CustomError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "code", "outcome", "error_type"),
    [
        (None, 0, "success", None),
        (SystemExit(), 0, "success", None),
        (SystemExit(None), 0, "success", None),
        (SystemExit(0), 0, "success", None),
        (SystemExit(3), 3, "error", "_OTHER"),
        (SystemExit(2), 2, "usage_error", "_OTHER"),
        (SystemExit("fatal: message"), 1, "error", "_OTHER"),
        (SystemExit(True), 1, "error", "_OTHER"),
        (KeyboardInterrupt(), 130, "interrupted", "KeyboardInterrupt"),
        (ValueError("secret"), 1, "internal_error", "ValueError"),
        (CustomError(), 1, "internal_error", f"{__name__}.CustomError"),
        (click.exceptions.Exit(0), 0, "success", None),
        (click.exceptions.Exit(4), 4, "error", "_OTHER"),
        (typer.Exit(3), 3, "error", "_OTHER"),
        (typer.Exit(), 0, "success", None),
        (click.UsageError("no"), 2, "usage_error", "click.exceptions.UsageError"),
        (click.BadParameter("x"), 2, "usage_error", "click.exceptions.BadParameter"),
        (click.Abort(), 1, "interrupted", "click.exceptions.Abort"),
        (click.ClickException("x"), 1, "error", "click.exceptions.ClickException"),
        (typer.Abort(), 1, "interrupted", f"{typer.Abort.__module__}.Abort"),
    ],
)
def test_classify(
    exc: BaseException | None, code: int, outcome: str, error_type: str | None
) -> None:
    """Each way a command can end maps to the documented code, outcome and error type."""
    result = command.classify(exc)
    assert (result.code, result.outcome, result.error_type) == (code, outcome, error_type)


def test_returned_exit_code_is_used_when_nothing_escaped() -> None:
    """A command that returns a code (argparse style) gets it recorded."""
    assert command.classify(None, default_code=5) == command.ExitStatus(5, "error", "_OTHER")


def test_error_type_never_contains_the_message() -> None:
    """Only the class name leaves the process, never the message."""
    result = command.classify(RuntimeError("token=abc123"))
    assert "abc123" not in (result.error_type or "")
