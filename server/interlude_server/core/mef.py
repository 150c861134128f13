"""MEF spellings of contract enums: SERVICE_ORDER_STATE_IN_PROGRESS is `inProgress`."""

from __future__ import annotations

from typing import Any, Protocol


class ProtoEnum(Protocol):
    """A generated protobuf enum (its wrapper's Name/Value)."""

    def Name(self, number: Any) -> str: ...  # noqa: N802 - protobuf's API

    def Value(self, name: str) -> Any: ...  # noqa: N802 - protobuf's API


def mef_name(enum: ProtoEnum, value: int) -> str:
    """The MEF spelling of an enum value (lowerCamelCase without the enum prefix)."""
    name: str = enum.Name(value)
    prefix = _prefix(enum)
    words = name.removeprefix(prefix).lower().split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def upper_name(enum: ProtoEnum, value: int) -> str:
    """The value name without its enum prefix, e.g. `LOCKED` (the X.731 spelling)."""
    name: str = enum.Name(value)
    return name.removeprefix(_prefix(enum))


def from_upper_name(enum: ProtoEnum, name: str) -> int:
    """The enum value for an X.731 spelling such as `LOCKED`; 0 when unknown."""
    try:
        return int(enum.Value(_prefix(enum) + name.upper()))
    except ValueError:
        return 0


def _prefix(enum: ProtoEnum) -> str:
    zero: str = enum.Name(0)
    return zero.removesuffix("UNSPECIFIED")
