"""A TCP proxy in front of several web processes, switched by the test: the load balancer of a
real install, made deterministic. Every new connection goes to the current target; `switch`
moves later connections elsewhere and `drop` cuts the open ones (a browser's websocket then
reconnects, through the proxy, to the new target)."""

from __future__ import annotations

import socket
import threading
from collections import Counter


class SwitchingProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections: Counter[int] = Counter()  # target port -> connections opened to it
        self._open: list[socket.socket] = []
        self._all: list[socket.socket] = []  # closed with the proxy (pumps only shut them down)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def switch(self, target_port: int) -> None:
        with self._lock:
            self.target_port = target_port

    def drop(self) -> None:
        """Cut every open connection in both directions."""
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            _shut(sock)

    def close(self) -> None:
        self._closed = True
        _shut(self._listener)
        self._listener.close()
        self.drop()
        for sock in self._all:
            sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                port = self.target_port
            try:
                upstream = socket.create_connection(("127.0.0.1", port))
            except OSError:
                client.close()  # the target is down: the browser sees a refused connection
                continue
            with self._lock:
                self.connections[port] += 1
                self._open += [client, upstream]
                self._all += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    _shut(dst)
    _shut(src)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
