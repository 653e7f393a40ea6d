"""A tiny base for value classes on the hot path.

``dataclasses`` builds each class with ``exec`` at import time: about a millisecond per
class on a slow machine, which alone would break the "disabled costs nothing" budget.
These classes spell out ``__init__`` and get equality and a repr from their slots.

On the disabled path: no ``from __future__`` (that import is a real module load) and no
``typing`` at run time; annotations that need it are strings.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Record:
    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def _asdict(self) -> "dict[str, Any]":
        return {name: getattr(self, name) for name in self.__slots__}
