"""``fermion agent metadata --host H``: the metadata agent (network nodes).

It serves ``metadata_proxy_socket`` (a unix socket; the routers' and DHCP namespaces'
haproxy forward instances' requests to it), finds the instance behind each request
(:mod:`fermion.agent.metadata_lookup`), adds ``X-Instance-ID``, ``X-Tenant-ID`` and
``X-Instance-ID-Signature`` and forwards it to the metadata service at
``nova_metadata_protocol://nova_metadata_host:nova_metadata_port``; the service's answer
goes back as it is (its status, body and content type). A request the agent cannot place
gets 404; an unreachable metadata service 500.

The loop is :class:`~fermion.agent.loop.ReconcilingAgent`'s: it reports as "Metadata
agent" and watches the change feed; any change clears the lookup cache (there is nothing
else to converge). The HTTP server (uvicorn, asyncio) runs in its own thread; lookups go
to the Networking API through their own client in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import threading
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fermion.agent.command import server_client
from fermion.agent.loop import ReconcilingAgent
from fermion.agent.metadata_lookup import LookupCache, find_instance, forward_headers, source_of
from fermion.agent.server_client import ServerClient

LOG = logging.getLogger(__name__)
AGENT_TYPE = "Metadata agent"
BINARY = "neutron-metadata-agent"
SOCKET_MODES = {"user": 0o644, "deduce": 0o644, "group": 0o664, "all": 0o666}
UNKNOWN = "An unknown error has occurred. Please try your request again."


@dataclass(frozen=True)
class MetadataOptions:
    host: str
    socket_path: str
    socket_mode: int
    backlog: int
    nova_url: str
    secret: str
    verify: bool | str
    cert: tuple[str, str] | None
    cache_ttl: float
    report_interval: float

    @classmethod
    def from_args(cls, args) -> MetadataOptions:
        """From the resolved command line (``fermion.cli.resolve_ini``: flags over
        metadata_agent.ini over defaults); options without a flag from ``args.conf``."""
        conf = args.conf
        host, port = args.nova_metadata_host, args.nova_metadata_port
        if not 0 < port < 65536:
            raise ValueError(f"--nova-metadata-port {port} is not a port")
        protocol = conf.get("DEFAULT", "nova_metadata_protocol")
        host_part = f"[{host}]" if ":" in host else host
        verify: bool | str = not conf.get("DEFAULT", "nova_metadata_insecure")
        if verify and conf.get("DEFAULT", "auth_ca_cert"):
            verify = conf.get("DEFAULT", "auth_ca_cert")
        cert = (conf.get("DEFAULT", "nova_client_cert"),
                conf.get("DEFAULT", "nova_client_priv_key"))
        return cls(
            host=args.host,
            socket_path=args.metadata_proxy_socket,
            socket_mode=SOCKET_MODES[conf.get("DEFAULT", "metadata_proxy_socket_mode")],
            backlog=conf.get("DEFAULT", "metadata_backlog"),
            nova_url=f"{protocol}://{host_part}:{port}",
            secret=conf.get("DEFAULT", "metadata_proxy_shared_secret"),
            verify=verify, cert=cert if all(cert) else None,
            cache_ttl=conf.get("cache", "expiration_time") if conf.get("cache", "enabled")
            else 0.0,
            report_interval=args.report_interval)


class MetadataProxy:
    """The HTTP side: one Starlette app on the unix socket."""

    def __init__(self, opts: MetadataOptions, lookups: ServerClient):
        self.opts = opts
        self.lookups = lookups
        self.cache = LookupCache(opts.cache_ttl)
        self.forwarder: httpx.AsyncClient | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self.handle,
                                           methods=["GET", "HEAD", "POST", "PUT", "DELETE"])],
                             lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app):
        """The forwarding client lives in the server's event loop."""
        self.forwarder = httpx.AsyncClient(base_url=self.opts.nova_url, verify=self.opts.verify,
                                           cert=self.opts.cert, timeout=30.0)
        try:
            yield
        finally:
            await self.forwarder.aclose()

    async def handle(self, request: Request) -> Response:
        source = source_of(request.headers.getlist)
        if source is None:
            LOG.warning("metadata request without the proxy's headers: 404")
            return PlainTextResponse("404 Not Found\n", 404)
        hit, instance, generation = self.cache.get(source)
        if not hit:
            try:
                instance = await run_in_threadpool(find_instance, self.lookups, source)
            except (httpx.HTTPError, OSError) as error:
                LOG.error("looking up %s failed: %s", source, error)
                return PlainTextResponse(UNKNOWN, 500)
            self.cache.put(source, instance, generation)
        if instance is None:
            LOG.warning("no instance at %s on %s %s: 404", source.address, source.kind,
                        source.resource_id)
            return PlainTextResponse("404 Not Found\n", 404)
        return await self.forward(request, source, instance)

    async def forward(self, request: Request, source, instance) -> Response:
        headers = forward_headers(request.headers, source, instance, self.opts.secret)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            answer = await self.forwarder.request(request.method, target, headers=headers,
                                                  content=await request.body())
        except httpx.HTTPError as error:
            LOG.error("the metadata service at %s failed: %s", self.opts.nova_url, error)
            return PlainTextResponse(UNKNOWN, 500)
        if answer.status_code >= 500:
            LOG.error("the metadata service answered %s", answer.status_code)
            return PlainTextResponse("Remote metadata server experienced an internal server "
                                     "error.", 500)
        if answer.status_code == 403:
            LOG.warning("the metadata service refused the signature: check that "
                        "metadata_proxy_shared_secret matches the service's")
        return Response(answer.content, answer.status_code,
                        media_type=answer.headers.get("content-type"))


def bind_socket(path: str, mode: int, backlog: int) -> socket.socket:
    """The unix socket, replacing a stale one (a socket file nobody serves)."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, mode)
    sock.listen(backlog)
    return sock


class MetadataAgent(ReconcilingAgent):
    agent_type = AGENT_TYPE
    binary = BINARY

    def __init__(self, opts: MetadataOptions, client: ServerClient, proxy: MetadataProxy):
        super().__init__(opts.host, client, report_interval=opts.report_interval)
        self.opts = opts
        self.proxy = proxy
        self._server = None
        self._thread: threading.Thread | None = None

    def configurations(self) -> dict:
        return {"metadata_proxy_socket": self.opts.socket_path,
                "nova_metadata_url": self.opts.nova_url, "log_agent_heartbeats": False}

    def resync(self) -> None:
        """The first time, a snapshot (for the feed's revision); then only clear the
        cache: the feed moved, so any lookup may be stale."""
        if self.snapshot is None:
            super().resync()
        else:
            self.dirty.clear()
        self.proxy.cache.clear()

    def converge(self) -> Summary:
        self.passes += 1
        if self._thread is not None and not self._thread.is_alive():
            raise OSError("the metadata proxy's HTTP server stopped")
        return Summary(self.opts.socket_path, self._thread is not None)

    def start_watchers(self) -> None:
        import uvicorn

        sock = bind_socket(self.opts.socket_path, self.opts.socket_mode, self.opts.backlog)
        config = uvicorn.Config(self.proxy.app, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="metadata-http",
                                        daemon=True)
        self._thread.start()
        LOG.info("serving %s, forwarding to %s", self.opts.socket_path, self.opts.nova_url)

    def _serve(self, sock: socket.socket) -> None:
        asyncio.run(self._server.serve(sockets=[sock]))

    def stop_watchers(self) -> None:
        self.proxy.lookups.close()
        if self._server is None:
            return  # --once: never served, so the socket is not ours to remove
        self._server.should_exit = True
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            os.unlink(self.opts.socket_path)


@dataclass(frozen=True)
class Summary:
    socket: str
    serving: bool
    errors: tuple = ()

    def summary(self) -> dict:
        return {"socket": self.socket, "serving": self.serving}


def build(args) -> MetadataAgent:
    """The agent from the resolved command line (``fermion agent metadata``)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    opts = MetadataOptions.from_args(args)
    client = server_client(args)
    lookups = server_client(args, timeout=10.0)
    return MetadataAgent(opts, client, MetadataProxy(opts, lookups))
