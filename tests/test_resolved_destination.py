"""``Telemetry.destinations()`` returns public, immutable, typed records (issue 20)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import otel_cli_telemetry
from otel_cli_telemetry import OTLP, Datadog, ResolvedDestination, Telemetry
from tests.test_datadog import TOKEN


def make(home: Path, **kwargs: object) -> Telemetry:
    return Telemetry("assembly", home=home, env={}, spawn=lambda *a, **k: None, **kwargs)  # type: ignore[arg-type]


def test_destinations_are_public_immutable_records(home: Path) -> None:
    """Each resolved destination is a frozen ``ResolvedDestination`` (not the private disk
    record), its headers read-only, its fields those of the private record."""
    secret = "Bearer s3cr3t-value"
    telemetry = make(
        home,
        destinations=[
            OTLP("http://127.0.0.1:9?api-key=k3y-value", headers={"authorization": secret}),
            Datadog(TOKEN),
        ],
    )
    otlp, datadog = telemetry.destinations()
    assert type(otlp) is ResolvedDestination is otel_cli_telemetry.ResolvedDestination
    assert (otlp.kind, otlp.protocol, datadog.kind) == ("otlp", "http/protobuf", "datadog")
    assert otlp.headers["authorization"] == secret  # kept, read-only
    with pytest.raises(TypeError):
        otlp.headers["x"] = "y"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        otlp.kind = "file"  # type: ignore[misc]
    private = telemetry._resolved_destinations()
    assert [ResolvedDestination.of(d) for d in private] == [otlp, datadog]
    assert [d.describe() for d in private] == [otlp.describe(), datadog.describe()]
    shown = repr(otlp) + repr(datadog) + otlp.describe() + datadog.describe()
    for hidden in ("s3cr3t", "k3y-value", TOKEN):
        assert hidden not in shown
    assert repr(otlp).startswith("ResolvedDestination(kind='otlp'")


def test_the_default_is_the_local_file_record(home: Path) -> None:
    """With nothing configured, the one public record is the local file sink's."""
    [only] = make(home).destinations()
    assert (only.kind, only.endpoint, only.describe()) == (
        "file", None, "local file (embedded default)",
    )  # fmt: skip
