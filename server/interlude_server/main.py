"""`interlude-server`: parse flags, configure logging, serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import structlog

from interlude_server.app import start_server
from interlude_server.config import Config, parse_args
from interlude_server.observability.logging import configure_logging

_log = structlog.get_logger("interlude_server")


def write_ready_file(path: Path, content: str) -> None:
    """Write `content` to `path` atomically: readers see nothing or all of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(content + "\n")
    os.replace(tmp, path)


def prepare_storage(config: Config) -> None:
    """Create the database directory; the store itself and seeding arrive with F2."""
    if config.db_path is not None:
        config.db_path.parent.mkdir(parents=True, exist_ok=True)
    _log.info("store.deferred", db=config.db_url, reason="the store is not built yet (issue F2)")
    if config.seed.kind != "none":
        _log.warning(
            "seed.deferred",
            seed=str(config.seed.path or config.seed.kind),
            reason="the seed loader is not built yet (issue F2); nothing was loaded",
        )


async def serve(config: Config) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; the process exit code."""
    try:
        running = await start_server(config.grpc_listen)
    except RuntimeError as exc:
        _log.error("server.bind_failed", address=config.grpc_listen.address, error=str(exc))
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    address = running.listen.address
    if config.ready_file is not None:
        write_ready_file(config.ready_file, address)
    _log.info("server.started", address=address, pid=os.getpid(), services=len(running.reflected_services))
    await stop.wait()
    _log.info("server.stopping", grace_s=config.shutdown_grace)
    await running.stop(config.shutdown_grace)
    if config.ready_file is not None:
        config.ready_file.unlink(missing_ok=True)
    _log.info("server.stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point of `interlude-server`."""
    config = parse_args(argv)
    configure_logging(config.log_format, config.log_level)
    prepare_storage(config)
    return asyncio.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
