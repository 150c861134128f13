"""Auto-paging: iterate over every item of a List RPC, fetching the next page as needed.

    for service in client.list_services(page_size=100):
        ...
    for page in client.list_services().pages():   # the raw responses, one per page
        print(page.total_size)

A pager fetches lazily: nothing is called until iteration starts, and a page is
fetched only when the previous one is used up. `limit` stops after that many items.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Generic, Protocol, TypeVar

Item = TypeVar("Item")


class Page(Protocol):
    """What every List response has besides its items (named per RPC): the next token. Most
    also have `total_size`; a Query response (e.g. QueryPerformanceJobs) has none."""

    @property
    def next_page_token(self) -> str: ...


PageT = TypeVar("PageT", bound=Page)


class _Common(Generic[PageT, Item]):
    def __init__(self, items_of: Callable[[PageT], Sequence[Item]], limit: int | None) -> None:
        self.items_of = items_of
        self.limit = limit
        # Known once the first page arrived; stays None for a response without total_size.
        self.total_size: int | None = None

    def _take(self, page: PageT, served: int) -> Sequence[Item]:
        total = getattr(page, "total_size", None)
        self.total_size = total if isinstance(total, int) else None
        items = self.items_of(page)
        if self.limit is not None:
            items = items[: max(self.limit - served, 0)]
        return items

    def _done(self, served: int) -> bool:
        return self.limit is not None and served >= self.limit


class Pager(_Common[PageT, Item]):
    """Every item of a List RPC; `fetch(token)` calls it for the page at `token`."""

    def __init__(
        self,
        fetch: Callable[[str], PageT],
        items_of: Callable[[PageT], Sequence[Item]],
        *,
        limit: int | None = None,
    ) -> None:
        super().__init__(items_of, limit)
        self.fetch = fetch

    def pages(self) -> Iterator[PageT]:
        token = ""
        while True:
            page = self.fetch(token)
            yield page
            token = page.next_page_token
            if not token:
                return

    def __iter__(self) -> Iterator[Item]:
        served = 0
        for page in self.pages():
            for item in self._take(page, served):
                served += 1
                yield item
            if self._done(served):
                return


class AsyncPager(_Common[PageT, Item]):
    """The asyncio twin of `Pager`: `async for item in pager`."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[PageT]],
        items_of: Callable[[PageT], Sequence[Item]],
        *,
        limit: int | None = None,
    ) -> None:
        super().__init__(items_of, limit)
        self.fetch = fetch

    async def pages(self) -> AsyncIterator[PageT]:
        token = ""
        while True:
            page = await self.fetch(token)
            yield page
            token = page.next_page_token
            if not token:
                return

    async def __aiter__(self) -> AsyncIterator[Item]:
        served = 0
        async for page in self.pages():
            for item in self._take(page, served):
                served += 1
                yield item
            if self._done(served):
                return

    async def all(self) -> list[Item]:
        """Every item, as a list."""
        return [item async for item in self]
