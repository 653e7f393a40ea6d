"""Anonymous identity and login linking, kept in ``state.json``.

- ``installation_id``: a random UUID4, never derived from hardware or names.
- ``linked_principal_id``: the signed-in account, or null. Only used when the author enabled
  identity linking (it is personal data).

Every read-modify-write holds the state lock and replaces the file atomically, so any
number of CLI processes can log in, log out and send at once: the file is always valid
JSON and each process sees one consistent (installation id, principal) pair.
"""

import time

from otel_cli_telemetry._disk import state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_HEX = frozenset("0123456789abcdef")


class Identity:
    """One consistent snapshot of the identity state."""

    __slots__ = ("installation_id", "linked_principal_id")

    def __init__(self, installation_id: str, linked_principal_id: str | None) -> None:
        self.installation_id = installation_id
        self.linked_principal_id = linked_principal_id

    @property
    def distinct_id(self) -> str:
        return self.linked_principal_id or self.installation_id


def _valid_uuid(value: object) -> bool:
    """A canonical lower-case UUID string (what ``str(uuid.UUID(value)) == value`` says,
    without importing ``uuid`` on every command)."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    parts = value.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and set("".join(parts)) <= _HEX


def _load_locked(paths: "state.Paths") -> "dict[str, Any]":
    try:
        data = state.read_json(paths.state_file) or {}
    except ValueError:
        data = {"replaced_corrupt_state_at": int(time.time())}
    if not _valid_uuid(data.get("installation_id")):
        data["installation_id"] = state.uuid4()
    principal = data.get("linked_principal_id")
    if principal is not None and not (isinstance(principal, str) and principal):
        data["linked_principal_id"] = None
    return data


def _snapshot(data: "dict[str, Any]") -> "Identity":
    return Identity(str(data["installation_id"]), data.get("linked_principal_id") or None)


def read(paths: "state.Paths") -> "Identity":
    """The current identity (minting the installation id on first use)."""
    try:
        data = state.read_json(paths.state_file)
    except ValueError:
        data = None
    if data is not None and _valid_uuid(data.get("installation_id")):
        principal = data.get("linked_principal_id")
        return Identity(
            str(data["installation_id"]),
            principal if isinstance(principal, str) and principal else None,
        )
    from otel_cli_telemetry._disk import locks  # only when writing

    with locks.FileLock(paths.state_lock):
        data = _load_locked(paths)
        state.write_json(paths.state_file, data)
        return _snapshot(data)


def link(
    paths: "state.Paths",
    principal_id: str,
    *,
    on_alias: "Callable[[str, str], None] | None" = None,
) -> bool:
    """Link the installation to ``principal_id``; False if it already was (idempotent).

    ``on_alias(anonymous_id, principal_id)`` is called, under the lock and before the new
    link is visible to any other process, so an alias can be queued ahead of every event
    that uses the principal id. A different principal first gets a fresh anonymous id, so
    two accounts are never merged through the same installation id.
    """
    from otel_cli_telemetry._disk import locks  # only when writing

    with locks.FileLock(paths.state_lock):
        data = _load_locked(paths)
        current = data.get("linked_principal_id")
        if current == principal_id:
            state.write_json(paths.state_file, data)
            return False
        if current:
            data["installation_id"] = state.uuid4()
        if on_alias is not None:
            on_alias(str(data["installation_id"]), principal_id)
        data["linked_principal_id"] = principal_id
        state.write_json(paths.state_file, data)
        return True


def unlink(paths: "state.Paths") -> "Identity":
    """Log out: forget the principal and rotate the anonymous id, so the next person on
    this machine is not merged with the last."""
    from otel_cli_telemetry._disk import locks  # only when writing

    with locks.FileLock(paths.state_lock):
        data = _load_locked(paths)
        data["linked_principal_id"] = None
        data["installation_id"] = state.uuid4()
        state.write_json(paths.state_file, data)
        return _snapshot(data)


def installation_id(paths: "state.Paths") -> str:
    """The random UUID4 that identifies this installation, minted on first use (never
    derived from hardware; a corrupt file gets a fresh id)."""
    return read(paths).installation_id
