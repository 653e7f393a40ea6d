"""What each attribute we send holds, in words: the text of ``telemetry disclosure`` and the
README. Only the admin commands load it; tests/test_disclosure.py proves the code sends no
attribute missing from these lists."""

from otel_cli_telemetry._process.attributes import (
    CI_DETECTED,
    CI_PROVIDER,
    CRASH_FRAMES,
    DROPPED_REASONS,
    DROPPED_SPANS,
    DROPPED_TRACES,
    DURATION_MS,
    ERROR_TYPE,
    EXECUTABLE_NAME,
    EXIT_CODE,
    HOST_ARCH,
    INSTALLATION_ID,
    INTERACTIVE,
    OPTIONS,
    OS_TYPE,
    OS_VERSION,
    OUTCOME,
    PID,
    RUNTIME_NAME,
    RUNTIME_VERSION,
    SAMPLE_RATE,
    SCOPE_NAME,
    SDK_LANGUAGE,
    SDK_NAME,
    SDK_VERSION,
    SERVICE_NAME,
    SERVICE_VERSION,
    STARTUP_MS,
    USER_ID,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["RESOURCE_FIELDS", "SCOPE_NAME", "SPAN_FIELDS"]

#: Attributes of a command span, and what each holds.
SPAN_FIELDS: "Final" = (
    (EXECUTABLE_NAME, "the program's base name, never its path"),
    (PID, "the process id"),
    (EXIT_CODE, "the exit code"),
    (ERROR_TYPE, "only when the exit code is not 0: the exception's class name, or `_OTHER`"),
    (OUTCOME, "`success`, `error`, `usage_error`, `interrupted` or `internal_error`"),
    (DURATION_MS, "how long the command ran, in milliseconds"),
    (OPTIONS, "click/typer: the *names* of options the author allow-listed, never values"),
    (SAMPLE_RATE, "only when the author samples: the share of installations that record"),
    (DROPPED_TRACES, "only after a loss: how many traces were lost since the last report"),
    (
        DROPPED_SPANS,
        "only after spans of delivered traces were lost (past the 512 spans a trace keeps,"
        " or refused in a partial success): how many since the last report",
    ),
    (DROPPED_REASONS, "only after a loss: why (`reason=count`)"),
    (
        STARTUP_MS,
        "Linux, the process's first command: milliseconds from the process's start to the "
        "command's (its start-up; resolution one clock tick, 10 ms)",
    ),
    (
        CRASH_FRAMES,
        "only on `internal_error`: where it crashed, innermost last; the app's own frames as "
        "`module:function:line`, others as their top-level package; no paths, values or "
        "messages; at most 16",
    ),
)
#: Attributes of the resource every span carries, and what each holds.
RESOURCE_FIELDS: "Final" = (
    (SERVICE_NAME, "the app's name (or `OTEL_SERVICE_NAME`)"),
    (SERVICE_VERSION, "the app's version"),
    (OS_TYPE, "`linux`, `darwin`, `windows`, ..."),
    (OS_VERSION, "the kernel or OS release"),
    (HOST_ARCH, "`amd64`, `arm64`, ... (semantic-convention values)"),
    (RUNTIME_NAME, "`cpython`, `pypy`, ..."),
    (RUNTIME_VERSION, "the Python version"),
    (INTERACTIVE, "whether stdin and stdout are terminals"),
    (SDK_NAME, "`opentelemetry`"),
    (SDK_LANGUAGE, "`python`"),
    (SDK_VERSION, "the OpenTelemetry SDK's version"),
    (INSTALLATION_ID, "a random UUID4 minted on first use; never derived from hardware or names"),
    (CI_DETECTED, "whether a CI marker variable is present (its value is never read)"),
    (CI_PROVIDER, "in CI only: `github_actions`, `gitlab_ci`, ..."),
    (USER_ID, "only with `identity_linking=True`, while an account is linked"),
)
