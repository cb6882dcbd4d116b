"""Listening sockets for Fermion's HTTP services (``fermion server``, ``fermion compute-api``).

Made with ``proto=IPPROTO_TCP``: asyncio sets TCP_NODELAY on accepted connections only
then (a socket from ``socket.create_server`` has proto 0, and every response would wait
~40 ms for a delayed ACK). Imports nothing of Fermion.
"""

from __future__ import annotations

import socket


def tcp_listener(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
