"""A TCP proxy a test can cut without closing anything: half-open connections on demand."""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from tests.conftest import free_port


class HalfOpenProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; :meth:`cut` makes every link half-open.

    After :meth:`cut`, bytes sent over the connections open then (and over any opened
    before :meth:`restore`) vanish and nothing is closed, as when a broker host or a
    NAT table disappears. Those connections stay dead for good; connections opened after
    :meth:`restore` work again.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._cut = False
        self._dead: set[socket.socket] = set()
        self._sockets: list[socket.socket] = [self._listener]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, name="halfopen-accept", daemon=True).start()

    def cut(self) -> None:
        """From now on, every open connection and every new one drops all bytes."""
        with self._lock:
            self._cut = True
            self._dead.update(self._sockets)

    def restore(self) -> None:
        """New connections forward again; the cut ones stay dead."""
        with self._lock:
            self._cut = False

    def close(self) -> None:
        """Stop accepting and close every socket."""
        self._stopped.set()
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
                if self._cut:
                    self._dead.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        with selectors.DefaultSelector() as selector:
            for sock in (a, b):
                selector.register(sock, selectors.EVENT_READ)
            while not self._stopped.is_set():
                for key, _ in selector.select(timeout=0.2):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = source.recv(65536)
                    except OSError:
                        data = b""
                    with self._lock:
                        dead = source in self._dead
                    if not data:
                        if not dead:  # a clean close passes through; a cut link says nothing
                            with suppress(OSError):
                                peer[source].shutdown(socket.SHUT_WR)
                        return
                    if not dead:
                        with suppress(OSError):
                            peer[source].sendall(data)


@contextmanager
def half_open_proxy(target: tuple[str, int]) -> Iterator[HalfOpenProxy]:
    """A :class:`HalfOpenProxy` closed at the end."""
    proxy = HalfOpenProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
