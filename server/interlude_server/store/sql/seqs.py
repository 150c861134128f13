"""The sequences of the streamed logs one PostgreSQL write group hands out.

A log's next sequence comes from its `seq_counters` row (Dialect.next_seq): the UPDATE
locks the row until COMMIT, so no other transaction appends to that log meanwhile, and
sequence order is commit order. Once a group holds that lock, it can count the next
sequences itself instead of a statement (and a round trip) each, and write the counter
once, just before its COMMIT (`store`).

The lock is the group's only once the write that took it succeeded: a write rolled back
to its savepoint undoes its UPDATE and releases a lock it took, so what a write counted is
kept only when it succeeds and forgotten when it fails (store.sql.perwrite).
"""

from __future__ import annotations

from interlude_server.store.sql.dialect import Conn, Dialect
from interlude_server.store.sql.perwrite import PerWrite


class GroupSequences(PerWrite[tuple[int, int]]):
    """Per log: the counter row's value and the newest sequence the group's successful
    writes (and its running write) took."""

    def __init__(self, dialect: Dialect) -> None:
        super().__init__()
        self._dialect = dialect

    def next(self, conn: Conn, log: str) -> int:
        """The sequence of the next row of `log` this write appends."""
        known = self._current(log)
        if known is None:
            stored = self._dialect.next_seq(conn, log)  # locks the counter row until COMMIT
            self._write[log] = (stored, stored)
            return stored
        stored, newest = known
        self._write[log] = (stored, newest + 1)
        return newest + 1

    def last(self, conn: Conn, log: str) -> int:
        """The newest sequence of `log`, counting what this group took so far."""
        known = self._current(log)
        return known[1] if known is not None else self._dialect.last_seq(conn, log)

    def store(self, conn: Conn) -> None:
        """Bring each counter row the group counted past up to the newest sequence taken."""
        for log, (stored, newest) in self._group.items():
            if newest > stored:
                conn.execute("UPDATE seq_counters SET last_seq = ? WHERE name = ?", (newest, log))
