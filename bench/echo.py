"""The raw grpc.aio unary ceiling: a server that answers each call with recorded bytes.

Unary benchmarks report our server's calls/s and CPU per call as ratios to this
one, measured in the same run with the same load generator. It answers ANY
method path (so h2load and the Python generator hit the same path on both
servers) with the response recorded for that path: the serialized bytes our own
server returned for the same request, so both send payloads of the same size.
The bytes go out as they are (no deserialization, no serialization, no store, no
interceptors, no logging): what grpcio itself costs per call on this machine.

    python -m bench.echo --response /pkg.Service/Method=FILE [--response ...] --ready-file PATH
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import grpc

from bench.raw_stream import serve_until_signalled


class _Echo(grpc.GenericRpcHandler):
    """One unary handler per recorded method path; unknown paths are UNIMPLEMENTED."""

    def __init__(self, responses: dict[str, bytes]) -> None:
        self._handlers = {path: self._handler(body) for path, body in responses.items()}

    @staticmethod
    def _handler(body: bytes) -> grpc.RpcMethodHandler[bytes, bytes]:
        async def answer(_request: bytes, _context: Any) -> bytes:
            return body

        return grpc.unary_unary_rpc_method_handler(answer)

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        return self._handlers.get(handler_call_details.method)


def parse_response(value: str) -> tuple[str, bytes]:
    path, _, file = value.partition("=")
    if not path.startswith("/") or not file:
        raise argparse.ArgumentTypeError("expected /package.Service/Method=FILE")
    return path, Path(file).read_bytes()


async def serve(responses: dict[str, bytes], ready_file: Path, listen: str) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_Echo(responses),))
    await serve_until_signalled(server, ready_file, listen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--response", type=parse_response, action="append", required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--listen", default="127.0.0.1:0")
    args = parser.parse_args()
    asyncio.run(serve(dict(args.response), args.ready_file, args.listen))


if __name__ == "__main__":
    main()
