"""Subprocess for the durability test: acknowledges each write on stdout after it returns.

Usage: python durability_writer.py DB_PATH. Runs concurrent writers until killed;
a line `ack <id>` is written only after `await store.write(...)` returned.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from interlude_server.store.sql.tx import SqlTx
from interlude_server.store.sqlite.store import SqliteStore
from tests.store.builders import service

WORKERS = 16


async def main(path: Path) -> None:
    store = SqliteStore(path)
    await store.open()
    sys.stdout.write("ready\n")
    sys.stdout.flush()

    async def worker(w: int) -> None:
        n = 0
        while True:
            sid = f"svc-{w:02d}-{n:06d}"

            def put(tx: SqlTx, sid: str = sid) -> None:
                tx.put_service(service(sid, contacts=["NOC"], external_id=sid))

            await store.write(put)
            sys.stdout.write(f"ack {sid}\n")
            sys.stdout.flush()
            n += 1

    await asyncio.gather(*(worker(w) for w in range(WORKERS)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
