"""Resource attributes: semconv values, CI detection, and nothing personal."""

from __future__ import annotations

import getpass
import os
import socket

import pytest

from otel_cli_telemetry._process import attributes


@pytest.mark.parametrize(
    ("machine", "arch"),
    [
        ("x86_64", "amd64"),
        ("AMD64", "amd64"),
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("armv7l", "arm32"),
        ("i686", "x86"),
        ("ppc64le", "ppc64"),
        ("s390x", "s390x"),
        ("riscv64", "riscv64"),
    ],
)
def test_host_arch_uses_semconv_values(machine: str, arch: str) -> None:
    assert attributes.host_arch(machine) == arch


@pytest.mark.parametrize(
    ("platform_name", "os_type"),
    [("linux", "linux"), ("darwin", "darwin"), ("win32", "windows"), ("freebsd14", "freebsd")],
)
def test_os_type(platform_name: str, os_type: str) -> None:
    assert attributes.os_type(platform_name) == os_type


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        ({}, None),
        ({"GITHUB_ACTIONS": "true"}, "github_actions"),
        ({"GITLAB_CI": "true", "CI": "true"}, "gitlab_ci"),
        ({"TF_BUILD": "True"}, "azure_pipelines"),
        ({"CI": "true"}, "generic"),
        ({"CI": "false"}, None),
        ({"GITHUB_ACTIONS": ""}, None),
    ],
)
def test_ci_provider(env: dict[str, str], provider: str | None) -> None:
    assert attributes.ci_provider(env) == provider


def test_resource_has_required_fields_and_nothing_personal(tmp_path: object) -> None:
    """service.*, os.*, host.arch, runtime and the install id; no host, user or cwd."""
    env = {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghp_secretvalue"}
    attrs = attributes.resource_attributes("assembly", "1.2.3", "0000-id", env, "1.0")
    for key in (
        "service.name",
        "service.version",
        "os.type",
        "os.version",
        "host.arch",
        "process.runtime.name",
        "process.runtime.version",
        "telemetry.sdk.name",
        "telemetry.sdk.language",
        "telemetry.sdk.version",
        "app.installation.id",
        "process.interactive",
    ):
        assert key in attrs, key
    assert attrs["cli_telemetry.ci.provider"] == "github_actions"
    values = " ".join(str(v) for v in attrs.values())
    for private in (socket.gethostname(), getpass.getuser(), os.getcwd(), "ghp_secretvalue"):
        assert private not in values


def test_otel_service_name_and_resource_attributes() -> None:
    """OTEL_SERVICE_NAME replaces service.name; OTEL_RESOURCE_ATTRIBUTES adds, never replaces."""
    env = {
        "OTEL_SERVICE_NAME": "renamed",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci,os.type=evil,team=a%2Cb",
    }
    attrs = attributes.resource_attributes("assembly", None, None, env, "1.0")
    assert attrs["service.name"] == "renamed"
    assert attrs["deployment.environment"] == "ci"
    assert attrs["team"] == "a,b"
    assert attrs["os.type"] != "evil"
