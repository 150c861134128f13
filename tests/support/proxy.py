"""A TCP proxy on 127.0.0.1 that can lose the answer to one request: the network failure
that idempotency keys exist for.

`drop_answer_to(marker)` arms it: the next connection on which the client sends bytes
containing `marker` is cut (both sockets closed) as soon as the server's answer, which
echoes the marker, arrives, so the server has done the work and the client never hears
of it. Everything else is forwarded untouched; `requests_with(marker)` counts how many
times clients sent the marker (one per attempt).
"""

from __future__ import annotations

import contextlib
import socket
import threading


class _Link:
    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.sent = b""  # what the client sent on this connection
        self.doomed = False
        self.answer = b""  # what the server sent since the link was doomed

    def cut(self) -> None:
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class DroppingProxy:
    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.target = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._armed: bytes | None = None
        self._links: list[_Link] = []
        self.dropped = 0
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def drop_answer_to(self, marker: bytes) -> None:
        with self._lock:
            self._armed = marker

    def requests_with(self, marker: bytes) -> int:
        with self._lock:
            return sum(link.sent.count(marker) for link in self._links)

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for link in self._links:
                link.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            link = _Link(client, server)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._pump_up, args=(link,), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(link,), daemon=True).start()

    def _pump_up(self, link: _Link) -> None:
        """Client to server, watching for the armed marker."""
        try:
            while chunk := link.client.recv(65536):
                with self._lock:
                    link.sent += chunk
                    if self._armed is not None and self._armed in link.sent:
                        link.doomed = True
                link.server.sendall(chunk)
        except OSError:
            pass
        link.cut()

    def _pump_down(self, link: _Link) -> None:
        """Server to client; on a doomed link, hold everything and cut once the answer is in."""
        try:
            while chunk := link.server.recv(65536):
                with self._lock:
                    marker = self._armed
                    if link.doomed and marker is not None:
                        link.answer += chunk
                        if marker in link.answer:
                            self._armed = None
                            self.dropped += 1
                            break
                        continue
                link.client.sendall(chunk)
        except OSError:
            pass
        link.cut()
