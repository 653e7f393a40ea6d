"""The CLI process's side of consent: record the user's choice (``persist``) and what the
exporter child needs to decide again (``context``). The decision itself is made by
``_disk.consent``, which both processes call; its names are re-exported here.
"""

from otel_cli_telemetry._disk.consent import LOCAL as LOCAL
from otel_cli_telemetry._disk.consent import LOCAL_ONLY as LOCAL_ONLY
from otel_cli_telemetry._disk.consent import MODES as MODES
from otel_cli_telemetry._disk.consent import OFF as OFF
from otel_cli_telemetry._disk.consent import ON as ON
from otel_cli_telemetry._disk.consent import WITHDRAWN as WITHDRAWN
from otel_cli_telemetry._disk.consent import Decision as Decision
from otel_cli_telemetry._disk.consent import context as context
from otel_cli_telemetry._disk.consent import from_config as from_config
from otel_cli_telemetry._disk.consent import from_env as from_env
from otel_cli_telemetry._disk.consent import from_policy as from_policy
from otel_cli_telemetry._disk.consent import of_mode as of_mode
from otel_cli_telemetry._disk.consent import parse_mode as parse_mode
from otel_cli_telemetry._disk.consent import recheck as recheck
from otel_cli_telemetry._disk.consent import resolve as resolve
from otel_cli_telemetry._disk.consent import withdrawn as withdrawn
from otel_cli_telemetry._disk.consent import within as within

TYPE_CHECKING = False
if TYPE_CHECKING:
    from otel_cli_telemetry._disk.fs import StrPath


def persist(config_file: "StrPath", mode: "bool | str") -> None:
    """Record the user's choice (``enable`` / ``local`` / ``disable`` commands).

    ``local`` is written as ``mode = "local"`` with ``enabled = false``, so a library
    version that does not know the local mode reads it as off, never as on.
    """
    from otel_cli_telemetry._disk import state

    chosen = parse_mode(mode)
    if chosen is None:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    values = state.read_config(config_file)
    values["enabled"] = chosen == ON
    if chosen == LOCAL:
        values["mode"] = LOCAL
    else:
        values.pop("mode", None)
    from otel_cli_telemetry._disk import toml

    toml.write(config_file, values)
