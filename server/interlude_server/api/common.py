"""What the servicers share: a required field, one of the caller's resources or NOT_FOUND.

Errors are raised as domain exceptions; the RPC interceptor maps them to rich
statuses in one place (api/errors.py). The idempotent write every mutating RPC
goes through is domain/idempotency.run_once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from interlude_server.core.errors import InvalidArgument, NotFound, Violation

Item = TypeVar("Item")


def required(value: str, field: str, description: str = "required") -> None:
    """INVALID_ARGUMENT naming `field` when it is empty."""
    if not value:
        raise InvalidArgument(f"{field} is required", [Violation(field, description, "missingProperty")])


def found(item: Item | None, kind: str, item_id: str, reason: str) -> Item:
    """`item`, or NOT_FOUND (with `reason`) when there is none."""
    if item is None:
        raise NotFound(kind, item_id, reason)
    return item


async def get(
    fetch: Callable[[str, str], Awaitable[Item | None]],
    buyer_id: str,
    item_id: str,
    kind: str,
    reason: str,
    field: str = "id",
) -> Item:
    """One of the buyer's resources by its id (`field`, required); a missing or another
    buyer's id is NOT_FOUND alike."""
    required(item_id, field)
    return found(await fetch(buyer_id, item_id), kind, item_id, reason)
