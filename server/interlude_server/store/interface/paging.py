"""Keyset paging, as every store's list reads take and give it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class PageRequest:
    """Keyset paging: at most `limit` items strictly after `after` in sort order.

    `after` is the opaque sort key of the last item of the previous page, as
    returned in Page.last_key (None for the first page).
    """

    limit: int
    after: tuple[str | int | float, ...] | None = None


@dataclass(frozen=True)
class Page(Generic[Item]):
    """One page of results."""

    items: Sequence[Item]
    total: int
    # Sort key of the last item when more items follow, else None.
    last_key: tuple[str | int | float, ...] | None = None
