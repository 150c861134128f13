"""Page tokens and page sizes, the same for every List RPC.

A page token is opaque to clients: URL-safe base64 of JSON holding the keyset
position (the sort key of the last item served) and a fingerprint of the query
it belongs to, so a token replayed with another filter or order is refused
rather than silently yielding a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import Message

from interlude_server.api import filters
from interlude_server.core.errors import Errors, InvalidArgument, Violation
from interlude_server.store.interface.paging import Page, PageRequest

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

Key = tuple[str | int | float, ...]
Item = TypeVar("Item")
R = TypeVar("R", bound=Message)


def fingerprint(*parts: Message | str) -> str:
    """A short stable digest of the query a token belongs to (filter messages, order_by...)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.SerializeToString(deterministic=True) if isinstance(part, Message) else part.encode()
        digest.update(len(data).to_bytes(4, "big") + data)
    return digest.hexdigest()[:16]


def encode_token(query_fingerprint: str, key: Key) -> str:
    raw = json.dumps({"q": query_fingerprint, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_token(message: str) -> InvalidArgument:
    return InvalidArgument(message, [Violation("page_token", message)], reason="INVALID_PAGE_TOKEN")


def decode_token(token: str, query_fingerprint: str) -> Key | None:
    """The keyset position in `token` (None for an empty token); INVALID_PAGE_TOKEN if it is bad."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        fp, key = data["q"], data["k"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise _bad_token("page_token is malformed; use the next_page_token of the previous page") from exc
    if fp != query_fingerprint:
        raise _bad_token("page_token belongs to a different filter or order; start again without a token")
    if not isinstance(key, list) or not all(isinstance(k, str | int | float) for k in key):
        raise _bad_token("page_token is malformed; use the next_page_token of the previous page")
    return tuple(key)


@dataclass(frozen=True)
class PageParams:
    """Validated paging input of a List RPC."""

    request: PageRequest
    query_fingerprint: str

    def next_token(self, page: Page[Any]) -> str:
        """The next_page_token for a page served with these params ("" on the last page)."""
        return "" if page.last_key is None else encode_token(self.query_fingerprint, page.last_key)


def page_params(page_size: int, page_token: str, query_fingerprint: str) -> PageParams:
    """Validate page_size (0 → default, above the maximum → the maximum) and the token."""
    if page_size < 0:
        raise InvalidArgument(
            "page_size must not be negative", [Violation("page_size", "must be between 0 and 1000")]
        )
    limit = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after = decode_token(page_token, query_fingerprint)
    return PageParams(PageRequest(limit=limit, after=after), query_fingerprint)


async def list_page(
    request: Any,
    fetch: Callable[[PageRequest], Awaitable[Page[Item]]],
    ranges: Sequence[str] = (),
    query_fingerprint: str = "",
) -> tuple[Page[Item], str]:
    """The common body of a List RPC: validate the filter's time `ranges` (field names under
    `filter`) and the paging input, fetch one page; returns it with its next_page_token. The
    token is tied to `query_fingerprint` (by default the fingerprint of `request.filter`)."""
    errors = Errors()
    for name in ranges:
        filters.check_range(errors, f"filter.{name}", getattr(request.filter, name))
    errors.raise_if_any("the filter is not valid")
    fp = query_fingerprint or fingerprint(request.filter)
    params = page_params(request.page_size, request.page_token, fp)
    page = await fetch(params.request)
    return page, params.next_token(page)


async def listed(
    request: Any,
    response_type: type[R],
    items: str,
    fetch: Callable[[PageRequest], Awaitable[Page[Item]]],
    ranges: Sequence[str] = (),
) -> R:
    """A List RPC's response: one page (list_page) in the field `items`, with its
    next_page_token and total_size."""
    page, token = await list_page(request, fetch, ranges)
    return response_type(**{items: page.items, "next_page_token": token, "total_size": page.total})
