"""Log lines to a stream, those logged on an event loop written once per turn of that loop.

Writing a line is a system call that lets go of the interpreter lock: on the event loop,
each line was a hand-off to the store's writer thread, and a hand-off costs far more than
the write (the ack path measured 25 µs of wall time per write, cProfile in the server, one
access-log line per order). So a line logged while an event loop runs in this thread is
kept, in order, and the loop writes every line it kept in one write when it runs its next
callbacks: a write per turn of the loop instead of a write per line (or sooner, when the
loop is held so long that a line waited MAX_KEPT_SECONDS). A line logged on any
other thread (the store's writer, grpc's own threads, a process with no loop) is written at
once, after the lines kept so far, so lines keep the order they were logged in. Lines still
kept when the process exits are written by an exit handler; a process killed outright loses
at most the lines of the loop's current turn.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from typing import TextIO

# A line kept longer than this is written with the next line logged, turn or no turn: code
# that holds the loop (a long computation logging its progress) still shows its lines.
MAX_KEPT_SECONDS = 0.05


class LineWriter:
    """Writes whole lines to `stream` (see the module's docstring for when)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._kept: list[str] = []
        self._since = 0.0  # when the oldest kept line was kept

    def line(self, text: str) -> None:
        """Write `text` and a newline: after this loop turn's callbacks when an event loop runs
        in this thread, else now."""
        loop = asyncio._get_running_loop()  # None unless a loop runs in this thread
        with self._lock:
            if loop is None:
                self._write([*self._kept, text])
                self._kept = []
                return
            kept = self._kept
            kept.append(text)
            if len(kept) == 1:
                self._since = time.monotonic()
                loop.call_soon(self.flush)
            elif time.monotonic() - self._since >= MAX_KEPT_SECONDS:
                self._write(kept)
                self._kept = []

    def flush(self) -> None:
        """Write the lines kept so far."""
        with self._lock:
            if self._kept:
                self._write(self._kept)
                self._kept = []

    def _write(self, lines: list[str]) -> None:
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: logging must not fail the caller
            pass


_installed: list[LineWriter] = []  # the writer configure_logging installed last


def install(writer: LineWriter) -> LineWriter:
    """Make `writer` the one whose kept lines are written at exit (the one before it, if any,
    writes what it kept now)."""
    for previous in _installed:
        previous.flush()
    _installed[:] = [writer]
    return writer


@atexit.register
def _flush_at_exit() -> None:
    for writer in _installed:
        writer.flush()


class LineLogger:
    """A structlog logger writing each rendered event as one line through a LineWriter (the
    interface of structlog's WriteLogger: a method per level, each taking the line)."""

    def __init__(self, writer: LineWriter) -> None:
        self._line = writer.line

    def msg(self, message: str) -> None:
        self._line(message)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class LineLoggerFactory:
    """structlog's logger_factory: every logger writes through the same LineWriter."""

    def __init__(self, writer: LineWriter) -> None:
        self.writer = writer

    def __call__(self, *args: object) -> LineLogger:
        return LineLogger(self.writer)


class LineHandler(logging.Handler):
    """A standard-library logging handler writing each formatted record through a LineWriter
    (so grpc's own log records keep their order among the server's lines)."""

    def __init__(self, writer: LineWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.line(self.format(record))
        except Exception:  # logging's own convention: report, never raise
            self.handleError(record)
