"""Operations as data, and the decorators that make one description a method of both faces.

The client core (`interlude_client.core`) writes each operation of the contract once, as a
method that *describes* the call (which stub method, which request, how the answer is
unpacked) and does no I/O. The decorators here turn such a method into the method each
face exposes; a face supplies only the call mechanics: a blocking stub call for
`InterludeClient`, an awaited grpc.aio one for `AsyncInterludeClient`.

    described as        decorator    sync face                  asyncio face
    Call[T]             @unary       T                          async def ... -> T
    Listing[Page, Item] @paged       Pager[Page, Item]          AsyncPager[Page, Item]
    Stream[R]           @streamed    Generator[R, None, None]   AsyncGenerator[R, None]

Type checkers see each face's form (`__get__` is overloaded on the face), and at run time
a face's method carries the described method's name, docstring and parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Sequence
from dataclasses import dataclass
from types import MethodType
from typing import Any, ClassVar, Concatenate, Generic, ParamSpec, TypeVar, overload

import grpc

from interlude_client.builders import Idempotent, with_request_id
from interlude_client.paging import AsyncPager, Pager, PageT
from interlude_client.streams import ResumeOptions

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")
A = TypeVar("A")
Req = TypeVar("Req")
Change = TypeVar("Change", bound=Idempotent)
Resp = TypeVar("Resp")
Item = TypeVar("Item")


@dataclass(frozen=True)
class Call(Generic[T]):
    """One unary call: the stub method, its request, the deadline (None: the service
    config's), and how the answer is unpacked. Build it with `call` or `change`, which
    check that request and unpacking fit the method. The core types its stubs as sync
    ones; on the asyncio face the same attribute is the grpc.aio method, and is awaited."""

    method: grpc.UnaryUnaryMultiCallable[Any, Any]
    request: Any
    unpack: Callable[[Any], T]
    timeout: float | None


def call(
    method: grpc.UnaryUnaryMultiCallable[Req, Resp],
    request: Req,
    unpack: Callable[[Resp], T],
    timeout: float | None,
) -> Call[T]:
    return Call(method, request, unpack, timeout)


def change(
    method: grpc.UnaryUnaryMultiCallable[Change, Resp],
    request: Change,
    request_id: str | None,
    unpack: Callable[[Resp], T],
    timeout: float | None,
) -> Call[T]:
    """A call that changes something, so carries a `request_id` (the given one, the
    request's own, or a fresh UUID; see `builders.with_request_id`): a retry of it is
    answered with the first response and creates nothing twice."""
    return Call(method, with_request_id(request, request_id), unpack, timeout)


def nothing(response: object) -> None:
    """The unpacking of an answer that carries nothing (a delete's empty response)."""
    return None


def _page(response: PageT) -> PageT:
    return response


@dataclass(frozen=True)
class Listing(Generic[PageT, Item]):
    """A List call read page by page: `items_of(page)` are a page's items, `limit` stops
    after that many (None: every item)."""

    method: grpc.UnaryUnaryMultiCallable[Any, PageT]
    request: Any
    items_of: Callable[[PageT], Sequence[Item]]
    limit: int | None
    timeout: float | None

    def page(self, token: str) -> Call[PageT]:
        """The call for the page at `token`: a copy of the request with that page_token."""
        request = type(self.request)()
        request.CopyFrom(self.request)
        request.page_token = token
        return Call(self.method, request, _page, self.timeout)


@dataclass(frozen=True)
class Stream(Generic[R]):
    """A resumable server stream: the `interlude_client.streams` function each face opens it
    with (same arguments: stub, request, metadata, sleep, options), its stub and request."""

    blocking: Callable[..., Generator[R, None, None]]
    awaiting: Callable[..., AsyncGenerator[R, None]]
    stub: Any
    request: Any
    options: ResumeOptions


class BlockingFace:
    """The base of a face whose operations block (`interlude_client.client`)."""

    awaits: ClassVar[bool] = False


class AwaitingFace:
    """The base of a face whose operations are awaited (`interlude_client.aio`)."""

    awaits: ClassVar[bool] = True


class _Operation(Generic[P, S, A]):
    """A described operation as a method: it answers `S` on a blocking face, `A` on an
    awaiting one, by handing the description to the face's method named `run`."""

    run: ClassVar[str]
    coroutine: ClassVar[bool] = False  # on an awaiting face: an `async def` method
    forms: ClassVar[tuple[str, str]] = ("{}", "{}")  # the return annotation on each face

    def __init__(self, describe: Callable[Concatenate[Any, P], Any]) -> None:
        self.describe = describe
        self.__doc__, self.__name__ = describe.__doc__, describe.__name__
        self._methods = (self._method(awaits=False), self._method(awaits=True))

    def _method(self, *, awaits: bool) -> Callable[..., Any]:
        describe, run = self.describe, self.run
        method: Callable[..., Any]
        if awaits and self.coroutine:

            async def method(face: Any, /, *args: Any, **kwargs: Any) -> Any:
                return await getattr(face, run)(describe(face, *args, **kwargs))

        else:

            def method(face: Any, /, *args: Any, **kwargs: Any) -> Any:
                return getattr(face, run)(describe(face, *args, **kwargs))

        functools.update_wrapper(method, describe)
        signature = inspect.signature(describe)
        described = str(signature.return_annotation)  # e.g. "Call[inventory_pb2.Service]"
        inner = described[described.find("[") + 1 : -1]
        method.__signature__ = signature.replace(  # type: ignore[union-attr]
            return_annotation=self.forms[awaits].format(inner)
        )
        return method

    @overload
    def __get__(self, face: None, owner: type[BlockingFace]) -> Callable[Concatenate[BlockingFace, P], S]: ...
    @overload
    def __get__(self, face: None, owner: type[AwaitingFace]) -> Callable[Concatenate[AwaitingFace, P], A]: ...
    @overload
    def __get__(self, face: BlockingFace, owner: type[Any] | None = None) -> Callable[P, S]: ...
    @overload
    def __get__(self, face: AwaitingFace, owner: type[Any] | None = None) -> Callable[P, A]: ...
    def __get__(self, face: Any, owner: Any = None) -> Any:
        awaits = getattr(owner or type(face), "awaits", None)
        if awaits is None:  # read on the core itself: the description
            return self
        method = self._methods[awaits]
        return method if face is None else MethodType(method, face)


class UnaryOperation(_Operation[P, T, Coroutine[Any, Any, T]]):
    """One answer: returned by the sync face, awaited on the asyncio face."""

    run = "_unary"
    coroutine = True

    def __init__(self, describe: Callable[Concatenate[Any, P], Call[T]]) -> None:
        super().__init__(describe)


class PagedOperation(_Operation[P, Pager[PageT, Item], AsyncPager[PageT, Item]]):
    """Every item of a List RPC, through a pager that fetches pages as they are used."""

    run = "_pager"
    forms = ("Pager[{}]", "AsyncPager[{}]")

    def __init__(self, describe: Callable[Concatenate[Any, P], Listing[PageT, Item]]) -> None:
        super().__init__(describe)


class StreamOperation(_Operation[P, Generator[R, None, None], AsyncGenerator[R, None]]):
    """A resumable server stream, as a generator (async generator on the asyncio face)."""

    run = "_stream"
    forms = ("Generator[{}, None, None]", "AsyncGenerator[{}, None]")

    def __init__(self, describe: Callable[Concatenate[Any, P], Stream[R]]) -> None:
        super().__init__(describe)


unary = UnaryOperation
paged = PagedOperation
streamed = StreamOperation
