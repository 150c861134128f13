"""The raw grpc.aio streaming ceiling: a server that only streams messages.

Streaming benchmarks report our server's rate as a ratio to this one, measured
in the same run on the same machine with the same subscribers. It has one
server-streaming method, `/bench.RawStream/Stream`, which ignores its request
and sends every message of a recorded list, then ends. The list is a file of
length-prefixed serialized messages of one type (captured from our own server,
so both sides send the same bytes), parsed once at start; each send serializes
the message as any grpc.aio servicer does. Nothing else runs in it: no store,
no filter, no tokens, no logging.

    python -m bench.raw_stream --messages FILE --message-type mef.lso.interlude.v1.StreamEventsResponse \
        --ready-file PATH        # writes host:port when serving
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import struct
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message, message_factory

import interlude_grpc.mef.lso.interlude.v1.events_pb2
import interlude_grpc.mef.lso.interlude.v1.performance_pb2
import interlude_grpc.mef.lso.interlude.v1.service_test_pb2  # noqa: F401

METHOD = "/bench.RawStream/Stream"
_LENGTH = struct.Struct(">I")


def write_messages(path: Path, payloads: Iterable[bytes]) -> int:
    """Write serialized messages as length-prefixed records; how many were written."""
    count = 0
    with path.open("wb") as out:
        for payload in payloads:
            out.write(_LENGTH.pack(len(payload)))
            out.write(payload)
            count += 1
    return count


def read_messages(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        (size,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        yield data[offset : offset + size]
        offset += size


def message_class(full_name: str) -> type[message.Message]:
    descriptor = descriptor_pool.Default().FindMessageTypeByName(full_name)
    return message_factory.GetMessageClass(descriptor)


def _handler(messages: list[message.Message]) -> grpc.GenericRpcHandler:
    async def stream(_request: bytes, _context: Any) -> AsyncIterator[message.Message]:
        for item in messages:
            yield item

    method: grpc.RpcMethodHandler[bytes, message.Message] = grpc.unary_stream_rpc_method_handler(
        stream,
        request_deserializer=None,
        response_serializer=lambda m: m.SerializeToString(),
    )
    return grpc.method_handlers_generic_handler("bench.RawStream", {"Stream": method})


async def serve(messages_file: Path, message_type: str, ready_file: Path, listen: str) -> None:
    cls = message_class(message_type)
    messages = [cls.FromString(payload) for payload in read_messages(messages_file)]
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(messages),))
    await serve_until_signalled(server, ready_file, listen)


async def serve_until_signalled(server: grpc.aio.Server, ready_file: Path, listen: str) -> None:
    """Start a baseline `server` on `listen`, write host:port to `ready_file`, stop on SIGTERM/SIGINT."""
    port = server.add_insecure_port(listen)
    await server.start()
    host = listen.rsplit(":", 1)[0]
    await asyncio.to_thread(ready_file.write_text, f"{host}:{port}\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=Path, required=True)
    parser.add_argument("--message-type", required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--listen", default="127.0.0.1:0")
    args = parser.parse_args()
    asyncio.run(serve(args.messages, args.message_type, args.ready_file, args.listen))


if __name__ == "__main__":
    main()
