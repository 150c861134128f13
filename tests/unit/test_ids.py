"""New ids: RFC 4122 version 4 UUIDs from kernel random bytes drawn a batch at a time, never
the same twice, in any thread or forked child."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from interlude_server.core import ids


def test_ids_are_version_4_uuids_in_canonical_form_and_never_repeat() -> None:
    drawn = [ids.new_id() for _ in range(ids.BATCH * 5 + 3)]  # across several batches
    assert len(set(drawn)) == len(drawn)
    for text in drawn:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_each_thread_draws_its_own_bytes() -> None:
    drawn: dict[int, list[str]] = {}

    def draw(n: int) -> None:
        drawn[n] = [ids.new_id() for _ in range(ids.BATCH)]

    threads = [threading.Thread(target=draw, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for batch in drawn.values() for i in batch] + [ids.new_id()]
    assert len(set(every)) == len(every) == 4 * ids.BATCH + 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    ids.new_id()  # the parent holds a batch with ids left in it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, " ".join(ids.new_id() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [ids.new_id() for _ in range(3)]
    assert len(child) == 3
    assert not set(child) & set(parent)
