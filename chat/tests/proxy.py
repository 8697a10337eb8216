"""A tiny TCP proxy for the browser tests: the network between the page and daphne, which
a test can cut, and point at another daphne (chat/tests/test_resume_browser.py)."""

import socket
import threading


class Proxy:
    """Listens on a free port of 127.0.0.1 and forwards every connection, byte for byte, to
    `target` (a port). `cut()` drops every live connection as a failing network would;
    connections made after `switch()` go to the new target."""

    def __init__(self, target: int):
        self.target = target
        self.opened: list[int] = []  # the target of each connection, in order
        self._live: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def switch(self, target: int) -> None:
        self.target = target

    def cut(self) -> None:
        with self._lock:
            live, self._live = self._live, []
        for sock in live:
            _drop(sock)

    def close(self) -> None:
        _drop(self._listener)
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            target = self.target
            try:
                server = socket.create_connection(("127.0.0.1", target))
            except OSError:
                _drop(client)
                continue
            with self._lock:
                self.opened.append(target)
                self._live += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy one direction until either side ends; then end both, as one connection."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    _drop(source)
    _drop(sink)


def _drop(sock: socket.socket) -> None:
    # shutdown() first: it wakes a thread blocked in recv() on this socket, close() alone
    # does not.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
