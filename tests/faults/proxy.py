"""A TCP proxy in front of a real department server that can be told to misbehave, as departments do.

Modes, switched at any time:

- ``pass``: bytes flow both ways untouched;
- ``hang``: connections are accepted and read, and never answered (a server that stopped answering);
- ``cut``: each answer is forwarded up to ``cut_after`` bytes of its body, then the connection is
  dropped (a department that died mid-transfer); requests without a body (HEAD) pass untouched;
- ``refuse``: connections are closed as soon as they are accepted (a department that is down);
- ``slow``: answers trickle out at ``rate`` bytes a second, each byte well within any read timeout
  (a department that is alive but too slow to finish a query in its limit).

The proxy counts what it saw, so a test can tell that the trust really reached it.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

MODES = ("pass", "hang", "cut", "refuse", "slow")


class FaultProxy:
    def __init__(self, upstream: str, *, mode: str = "pass", cut_after: int = 2048, rate: int = 200) -> None:
        host, _, port = upstream.removeprefix("http://").rstrip("/").partition(":")
        self.upstream = (host, int(port))
        self.mode, self.cut_after, self.rate = mode, cut_after, rate
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)

    def set(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        self.mode = mode
        if mode == "pass":
            self._release_held()

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._sock.close()
        self._release_held()
        self._thread.join(timeout=2)

    def _release_held(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            try:
                conn.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client, self.mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str) -> None:
        if mode == "refuse":
            client.close()
            return
        if mode == "hang":
            with self._lock:
                self._held.append(client)
            try:
                while not self._stop.is_set() and client.recv(65536):
                    pass  # read what comes, answer nothing
            except OSError:
                pass
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        to_upstream = threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True)
        to_upstream.start()
        if mode == "slow":
            self._trickle(upstream, client)
        else:
            self._pump(upstream, client, self.cut_after if mode == "cut" else None)

    def _trickle(self, source: socket.socket, sink: socket.socket) -> None:
        step = max(1, self.rate // 10)
        try:
            while not self._stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                for i in range(0, len(data), step):
                    if self._stop.wait(0.1):
                        return
                    sink.sendall(data[i : i + step])
        except OSError:
            pass
        finally:
            for s in (source, sink):
                s.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, cut_after: int | None) -> None:
        """Copy ``source`` to ``sink``; with ``cut_after``, drop both once that many body bytes passed."""
        seen_head, body = b"", 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if cut_after is not None:
                    if b"\r\n\r\n" not in seen_head:
                        seen_head += data
                        head, sep, rest = seen_head.partition(b"\r\n\r\n")
                        if not sep:
                            sink.sendall(data)
                            continue
                        if b"content-length: 0" in head.lower() or head.startswith(b"HTTP/1.1 304"):
                            sink.sendall(data)
                            seen_head = b""
                            continue
                        sink.sendall(data[: len(data) - len(rest)])
                        data = rest
                    take = data[: max(0, cut_after - body)]
                    sink.sendall(take)
                    body += len(take)
                    if body >= cut_after:
                        break
                    continue
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
