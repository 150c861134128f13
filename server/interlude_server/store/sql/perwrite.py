"""What a write group builds up write by write, kept only for the writes that succeed.

Each write of a group runs in its own savepoint: one that fails is rolled back to it, and
what it did in the database is undone. State the writer keeps beside the database for the
group (the rows waiting for the group's multi-row INSERTs, store.sql.pending; the log
sequences the group counts itself, store.sql.seqs) must follow the same rule: the running
write's part joins the group's when the write succeeds and is dropped when it fails. The
writer ends every write in one place (GroupCommitThread._run_one) and tells each such
state which way it went.
"""

from __future__ import annotations

from typing import Generic, TypeVar

V = TypeVar("V")


class PerWrite(Generic[V]):
    """Per key (a table or a log): the group's value, from the writes that succeeded, and
    the running write's, which replaces it when the write succeeds (`_keep` says how)."""

    def __init__(self) -> None:
        self._group: dict[str, V] = {}
        self._write: dict[str, V] = {}

    def _current(self, key: str) -> V | None:
        """The running write's value of `key`, else the group's (None: neither has one)."""
        return self._write.get(key) or self._group.get(key)

    def _keep(self, key: str, value: V) -> None:
        """The succeeded write's `value` of `key` joins the group's (by default: replaces it)."""
        self._group[key] = value

    def write_succeeded(self) -> None:
        for key, value in self._write.items():
            self._keep(key, value)
        self._write = {}

    def write_failed(self) -> None:
        self._write = {}

    def clear(self) -> None:
        """Forget everything: a new group begins, or the group's transaction is gone."""
        self._group = {}
        self._write = {}
