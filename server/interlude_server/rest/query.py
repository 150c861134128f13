"""MEF query parameters -> the contract's filters, and offset/limit over keyset pages.

Only the parameters the MEF operation lists are accepted; anything else is a
400 `invalidQuery` (reason INVALID_FILTER), as are malformed values. A
parameter may repeat (`state=active&state=inactive`) or list values with
commas; values of one parameter match ANY, parameters combine with AND.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2

from interlude_grpc.mef.lso.interlude.v1 import inventory_pb2, ordering_pb2
from interlude_server.api.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from interlude_server.core.errors import InvalidArgument, Violation
from interlude_server.core.text import is_decimal
from interlude_server.rest import mapping as m

Params = Mapping[str, Sequence[str]]  # each name with all its values, e.g. from MultiDict
T = TypeVar("T")

_SERVICE_STATE = {name: number for number, name in m.SERVICE_STATE.items()}
_ORDER_STATE = {name: number for number, name in m.ORDER_STATE.items()}
PAGING = ("offset", "limit")
SERVICE_RANGES = {"serviceDate": "service_date", "startDate": "start_date", "endDate": "end_date"}
ORDER_RANGES = {
    "orderDate": "order_date",
    "completionDate": "completion_date",
    "expectedCompletionDate": "expected_completion_date",
    "startDate": "start_date",
}
_START_MODE = {name: number for number, name in m.START_MODE.items()}  # '0' -> START_MODE_UNKNOWN
SERVICE_PARAMS = (
    "state",
    "serviceOrder.id",
    "serviceOrderItem.id",
    "externalId",
    "geographicSite.id",
    "geographicAddress.id",
    "serviceType",
    "@type",
    "startMode",
    *(f"{name}.{op}" for name in SERVICE_RANGES for op in ("gt", "lt")),
    *PAGING,
)
ORDER_PARAMS = ("state", "externalId", *(f"{n}.{op}" for n in ORDER_RANGES for op in ("gt", "lt")), *PAGING)


class QueryErrors:
    def __init__(self) -> None:
        self.items: list[Violation] = []

    def add(self, name: str, description: str, code: str = "invalidQuery") -> None:
        self.items.append(Violation(name, description, code))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(
                "the query is not valid: " + "; ".join(f"{v.field}: {v.description}" for v in self.items),
                self.items,
                reason="INVALID_FILTER",
            )


def bad_parameter(name: str, description: str) -> InvalidArgument:
    errors = QueryErrors()
    errors.add(name, description)
    return InvalidArgument(
        f"the query is not valid: {name}: {description}", errors.items, reason="INVALID_FILTER"
    )


def paging_only(params: Params, why: str) -> None:
    """Refuse, as a bad parameter, any but `offset` and `limit` (a list that filters on nothing)."""
    for name in params:
        if name not in PAGING:
            raise bad_parameter(name, why)


def _values(params: Params, name: str) -> list[str]:
    return [v.strip() for raw in params.get(name, ()) for v in raw.split(",") if v.strip()]


def _single(params: Params, name: str, errors: QueryErrors) -> str:
    values = list(params.get(name, ()))
    if len(values) > 1:
        errors.add(name, "give it once")
    return values[0] if values else ""


def _check_names(params: Params, allowed: Sequence[str], errors: QueryErrors) -> None:
    for name, values in params.items():
        if name not in allowed:
            errors.add(name, f"not a query parameter of this operation; use {', '.join(allowed)}")
        elif not all(v.strip() for v in values):
            errors.add(name, "has no value", "missingQueryValue")


def _states(params: Params, table: Mapping[str, int], errors: QueryErrors) -> list[int]:
    out = []
    for v in _values(params, "state"):
        if v in table:
            out.append(table[v])
        else:
            errors.add("state", f"{v!r} is not one of {', '.join(table)}")
    return out


def _start_modes(params: Params, errors: QueryErrors) -> list[int]:
    out = []
    for v in _values(params, "startMode"):
        if v in _START_MODE:
            out.append(_START_MODE[v])
        else:
            errors.add("startMode", f"{v!r} is not one of {', '.join(_START_MODE)}")
    return out


def _ranges(params: Params, names: Mapping[str, str], target: Any, errors: QueryErrors) -> None:
    for mef, proto in names.items():
        for op, side in (("gt", "after"), ("lt", "before")):
            text = _single(params, f"{mef}.{op}", errors)
            if not text:
                continue
            ts = timestamp_pb2.Timestamp()
            try:
                ts.FromJsonString(text)
            except ValueError:
                errors.add(f"{mef}.{op}", "must be an RFC 3339 date-time")
                continue
            getattr(getattr(target, proto), side).CopyFrom(ts)


def service_filter(params: Params) -> inventory_pb2.ServiceFilter:
    """The ServiceFilter of a `GET /service` query (serviceFind)."""
    errors = QueryErrors()
    _check_names(params, SERVICE_PARAMS, errors)
    f = inventory_pb2.ServiceFilter(
        state=_states(params, _SERVICE_STATE, errors),  # type: ignore[arg-type]
        service_configuration_type=_values(params, "@type"),
        service_type=_single(params, "serviceType", errors),
        external_id=_single(params, "externalId", errors),
        service_order_id=_single(params, "serviceOrder.id", errors),
        service_order_item_id=_single(params, "serviceOrderItem.id", errors),
        geographic_site_id=_single(params, "geographicSite.id", errors),
        geographic_address_id=_single(params, "geographicAddress.id", errors),
        start_mode=_start_modes(params, errors),  # type: ignore[arg-type]
    )
    if bool(f.service_order_id) != bool(f.service_order_item_id):
        errors.add("serviceOrder.id", "serviceOrder.id and serviceOrderItem.id are used together")
    _ranges(params, SERVICE_RANGES, f, errors)
    errors.raise_if_any()
    return f


def order_filter(params: Params) -> ordering_pb2.ServiceOrderFilter:
    """The ServiceOrderFilter of a `GET /serviceOrder` query (listServiceOrder)."""
    errors = QueryErrors()
    _check_names(params, ORDER_PARAMS, errors)
    f = ordering_pb2.ServiceOrderFilter(
        state=_states(params, _ORDER_STATE, errors),  # type: ignore[arg-type]
        external_id=_single(params, "externalId", errors),
    )
    _ranges(params, ORDER_RANGES, f, errors)
    errors.raise_if_any()
    return f


@dataclass(frozen=True)
class Window:
    """The MEF page asked for: `offset` items skipped, at most `limit` returned."""

    offset: int
    limit: int
    throttled: bool  # the requested limit was above what one page may hold


def window(params: Params) -> Window:
    errors = QueryErrors()
    _check_names({k: v for k, v in params.items() if k in PAGING}, PAGING, errors)
    numbers = {}
    for name, default in (("offset", 0), ("limit", DEFAULT_PAGE_SIZE)):
        text = _single(params, name, errors)
        if not text:
            numbers[name] = default
        elif not is_decimal(text) or int(text) >= 2**31:
            errors.add(name, "must be a non-negative 32-bit integer")
        else:
            numbers[name] = int(text)
    if numbers.get("limit") == 0:
        errors.add("limit", "must be at least 1")
    errors.raise_if_any()
    limit = numbers["limit"]
    return Window(numbers["offset"], min(limit, MAX_PAGE_SIZE), limit > MAX_PAGE_SIZE)


@dataclass(frozen=True)
class Slice:
    """One MEF page and the counts for its headers."""

    items: Sequence[Any]
    total: int
    throttled: bool

    def headers(self, offset: int) -> dict[str, str]:
        more = offset + len(self.items) < self.total
        return {
            "X-Total-Count": str(self.total),
            "X-Result-Count": str(len(self.items)),
            "X-Pagination-Throttled": "true" if self.throttled and more else "false",
        }


# fetch(page_size, page_token, skipping) -> (items, next_page_token, total_size); `skipping`
# says only the position matters (a List RPC may then return ids only).
Fetch = Callable[[int, str, bool], Awaitable[tuple[Sequence[T], str, int]]]


async def page_at(fetch: Fetch[T], win: Window) -> Slice:
    """Serve offset/limit over keyset pages: walk past `offset` items page by page, then one page.

    Costs O(offset) reads; MEF paging has no cursor, so deep offsets cannot be cheaper.
    """
    token = ""
    skip = win.offset
    while skip > 0:
        items, token, total = await fetch(min(skip, MAX_PAGE_SIZE), token, True)
        skip -= len(items)
        if not token:
            return Slice([], total, False)
    items, _next, total = await fetch(win.limit, token, False)
    return Slice(items, total, win.throttled)
