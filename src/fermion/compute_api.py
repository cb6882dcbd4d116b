"""``fermion compute-api``: the Compute API (8774), the Image API (9292) and the metadata
service (8775) in one process, sharing one compute store and one Networking API client.

One uvicorn server listens on the three sockets (``nova.conf``: ``[DEFAULT]
osapi_compute_listen[_port]``, ``metadata_listen[_port]``; ``[fermion]
image_api_listen[_port]``); :class:`ByPort` hands each request to the application of the
port it arrived on. Why one process: the metadata service reads the servers the Compute API
writes, as Nova's metadata API is part of its API service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response

from fermion.compute.app import create_compute_app
from fermion.compute.images_app import create_image_app
from fermion.compute.service import ComputeService, Settings, store_url
from fermion.compute.store import Store
from fermion.metadata.service import create_metadata_app
from fermion.sockets import tcp_listener

LOG = logging.getLogger(__name__)


class ByPort:
    """ASGI: one application per local port (the socket a request arrived on)."""

    def __init__(self, apps: dict[int, Callable]):
        self.apps = apps

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        port = (scope.get("server") or (None, None))[1]
        app = self.apps.get(port)
        if app is None:
            await Response("no service on this port", 404)(scope, receive, send)
            return
        await app(scope, receive, send)


@dataclass(frozen=True)
class Listener:
    name: str
    host: str
    port: int


def listeners(conf) -> list[Listener]:
    return [Listener("compute", conf.get("DEFAULT", "osapi_compute_listen"),
                     conf.get("DEFAULT", "osapi_compute_listen_port")),
            Listener("image", conf.get("fermion", "image_api_listen"),
                     conf.get("fermion", "image_api_listen_port")),
            Listener("metadata", conf.get("DEFAULT", "metadata_listen"),
                     conf.get("DEFAULT", "metadata_listen_port"))]


def build(conf) -> tuple[ComputeService, dict[str, Callable]]:
    """The service (store migrated) and the three applications by name."""
    store = Store(store_url(conf))
    store.migrate()
    svc = ComputeService(Settings.from_conf(conf), store)
    return svc, {"compute": create_compute_app(svc), "image": create_image_app(),
                 "metadata": create_metadata_app(svc)}


def serve(conf) -> int:
    """Bind the three ports, then serve until interrupted (the ``compute-api`` command)."""
    import uvicorn

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per Networking call
    svc, apps = build(conf)
    sockets, by_port = [], {}
    for listener in listeners(conf):
        try:
            sock = tcp_listener(listener.host, listener.port)
        except OSError as error:
            LOG.error("cannot listen on %s:%s for the %s API: %s", listener.host,
                      listener.port, listener.name, error)
            for opened in sockets:
                opened.close()
            return 1
        sockets.append(sock)
        by_port[sock.getsockname()[1]] = apps[listener.name]
    server = uvicorn.Server(uvicorn.Config(ByPort(by_port), log_level="warning",
                                           access_log=False, timeout_graceful_shutdown=5))
    try:
        server.run(sockets=sockets)
    finally:
        svc.close()
    return 0
