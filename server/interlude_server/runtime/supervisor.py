"""`--workers N`: N server processes sharing the listen ports and the store, supervised.

The supervising process serves nothing itself. It picks the ports (a port 0
is resolved once, here, so every worker binds the same one), starts N
`interlude-server` processes with `--worker-index i` (which binds with
SO_REUSEPORT and turns on the shared-store mode: log follower and leases,
runtime/node.py), and writes the ready file once every worker is ready. The
kernel spreads incoming connections over the workers. A worker that dies is
started again (at most once a second); SIGTERM/SIGINT are forwarded, and the
supervisor exits after the workers did; a worker whose supervisor dies (even by
SIGKILL) gets SIGTERM from the kernel. A worker that fails before it was
ever ready (a bad flag, a port in use) stops the whole group with its exit code.

With `--metrics-listen`, every worker serves /metrics on the same port and writes its
metrics to files in one directory made fresh for this run (PROMETHEUS_MULTIPROC_DIR, set
in the workers' environment before they start, so prometheus-client starts in its
multiprocess mode): a scrape, whichever worker answers, sums them all. The files of a
worker that died keep its counts; its live gauges are dropped (`mark_process_dead`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import structlog

from interlude_server.config import Config, Listen

_log = structlog.get_logger("interlude_server.cluster")
POLL_S = 0.05
RESTART_GAP_S = 1.0


_PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """In the forked child, before exec: get SIGTERM when the supervisor dies, even by SIGKILL
    (Linux prctl), so no worker outlives its group."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def reserve_port(listen: Listen) -> tuple[Listen, socket.socket | None]:
    """`listen` with a concrete port; for port 0, a socket that holds the picked port (bound
    with SO_REUSEPORT, never listening, so it takes no connections) until the group ends."""
    if listen.port != 0:
        return listen, None
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((listen.host, 0))
    return Listen(listen.host, int(sock.getsockname()[1])), sock


@dataclass
class _Worker:
    index: int
    ready_file: Path
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    was_ready: bool = False


class Supervisor:
    """Starts, watches and stops the worker processes of one `interlude-server --workers N`."""

    def __init__(self, config: Config, argv: list[str]) -> None:
        self.config = config
        self.argv = argv
        self._stop = False
        self._held: list[socket.socket] = []
        self._dir = Path(tempfile.mkdtemp(prefix="interlude-workers-"))
        self.workers = [_Worker(i, self._dir / f"ready.{i}") for i in range(config.workers)]
        grpc_listen, held = reserve_port(config.grpc_listen)
        self._overrides = ["--grpc-listen", grpc_listen.address]
        self._held += [held] if held else []
        if config.rest_listen is not None:
            rest_listen, held = reserve_port(config.rest_listen)
            self._overrides += ["--rest-listen", rest_listen.address]
            self._held += [held] if held else []
        self._env = dict(os.environ)
        self._metrics_dir: Path | None = None
        if config.metrics_listen is not None:
            metrics_listen, held = reserve_port(config.metrics_listen)
            self._overrides += ["--metrics-listen", metrics_listen.address]
            self._held += [held] if held else []
            self._metrics_dir = self._dir / "metrics"
            self._metrics_dir.mkdir()  # fresh (mkdtemp): no earlier run's counts
            self._env["PROMETHEUS_MULTIPROC_DIR"] = str(self._metrics_dir)

    def _command(self, worker: _Worker) -> list[str]:
        # Later flags win in argparse: the worker's own settings override the group's.
        return [
            sys.executable,
            "-m",
            "interlude_server.runtime.main",
            *self.argv,
            *self._overrides,
            "--workers",
            "1",
            "--worker-index",
            str(worker.index),
            "--ready-file",
            str(worker.ready_file),
        ]

    def _spawn(self, worker: _Worker) -> None:
        worker.ready_file.unlink(missing_ok=True)
        worker.proc = subprocess.Popen(
            self._command(worker), stdin=subprocess.DEVNULL, preexec_fn=_end_with_parent, env=self._env
        )
        worker.started = time.monotonic()
        _log.info("worker.started", worker=worker.index, pid=worker.proc.pid)

    def _signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._stop = True

    def run(self) -> int:
        """Serve with N workers until SIGTERM/SIGINT; the exit code."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._signal)
        for worker in self.workers:
            self._spawn(worker)
        ready_written = False
        try:
            while not self._stop:
                time.sleep(POLL_S)
                for worker in self.workers:
                    if failed := self._watch(worker):
                        return failed
                if not ready_written and all(w.was_ready for w in self.workers):
                    ready_written = True
                    self._write_ready()
            return self._shutdown()
        finally:
            self._cleanup()

    def _watch(self, worker: _Worker) -> int:
        """Note readiness; restart a dead worker. Non-zero: the group must stop with that code."""
        assert worker.proc is not None
        if not worker.was_ready and worker.ready_file.exists():
            worker.was_ready = True
        code = worker.proc.poll()
        if code is None or self._stop:
            return 0
        if not worker.was_ready:
            _log.error("worker.failed_to_start", worker=worker.index, exit_code=code)
            self._shutdown()
            return code or 1
        if time.monotonic() - worker.started < RESTART_GAP_S:
            return 0  # restarted again after the gap: a crash loop must not spin
        _log.warning("worker.died", worker=worker.index, pid=worker.proc.pid, exit_code=code)
        self._forget_metrics(worker.proc.pid)
        self._spawn(worker)
        return 0

    def _forget_metrics(self, pid: int) -> None:
        """A worker is gone: its live gauges (open streams, log positions) leave the sums."""
        if self._metrics_dir is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid, str(self._metrics_dir))  # type: ignore[no-untyped-call]

    def _write_ready(self) -> None:
        from interlude_server.runtime.ready import write_ready_file

        content = self.workers[0].ready_file.read_text().strip()
        if self.config.ready_file is not None:
            write_ready_file(self.config.ready_file, content)
        pids = [w.proc.pid for w in self.workers if w.proc is not None]
        _log.info("workers.ready", workers=len(self.workers), pids=pids, address=content.splitlines()[0])

    def _shutdown(self) -> int:
        """Forward SIGTERM, wait for every worker (SIGKILL after the grace); worst exit code."""
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.shutdown_grace + 10.0
        worst = 0
        for proc in running:
            try:
                code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            worst = worst or code
        return worst

    def _cleanup(self) -> None:
        for sock in self._held:
            sock.close()
        for worker in self.workers:
            worker.ready_file.unlink(missing_ok=True)
        if self._metrics_dir is not None:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            self._dir.rmdir()
        if self.config.ready_file is not None:
            self.config.ready_file.unlink(missing_ok=True)
        _log.info("workers.stopped", pid=os.getpid())
