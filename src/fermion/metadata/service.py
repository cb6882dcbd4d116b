"""The metadata service (Nova's metadata API, port 8775) behind the metadata agent.

Every request but ``GET /`` must carry what the metadata agent adds:
``X-Instance-ID``, ``X-Tenant-ID`` and ``X-Instance-ID-Signature`` (HMAC-SHA256 of the
instance id with ``[neutron] metadata_proxy_shared_secret``, hex). Missing headers: 400;
a wrong signature: 403; an instance that does not exist or belongs to another project
than ``X-Tenant-ID``: 404; a path outside the trees: 404 (``tree.lookup``).

An instance's data (its row in the compute store and its ports from the Networking API) is
read once and kept for ``[api] metadata_cache_expiration`` seconds, as Nova does. The first
request an instance makes is recorded (``instances.metadata_read``): a server becomes
ACTIVE once its guest has its lease and has read its metadata.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from base64 import b64encode

from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from fermion.compute import catalog, instances, netinfo
from fermion.compute.store import now
from fermion.compute.tables import instances as I
from fermion.metadata import tree

LOG = logging.getLogger(__name__)
MAX_PASSWORD = 4 * 255  # Nova keeps the password in four 255-character chunks
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 500: "Internal Server Error"}


def expected_signature(secret: str, instance_id: str) -> str:
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def error(status: int, message: str = "") -> Response:
    text = f"{status} {REASONS[status]}\n\n{message or 'The resource could not be found.'}"
    return PlainTextResponse(text + "\n\n   ", status)


class MetadataService:
    def __init__(self, svc):
        self.svc = svc
        self.ttl = svc.settings.metadata_cache_expiration
        self._cache: dict[str, tuple[float, tree.InstanceData | None]] = {}
        self._seen: set[str] = set()  # instances whose metadata read is recorded

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return  # the compute-api dispatcher answers lifespan events
        request = Request(scope, receive)
        try:
            response = await self.handle(request)
        except Exception:
            LOG.exception("metadata request %s failed", request.url.path)
            response = error(500, "An unknown error has occurred. Please try your request "
                                  "again.")
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        if path.strip("/") == "":
            body, ctype = tree.lookup(None, "/")  # the version list needs no instance
            return Response(body, media_type=ctype)
        if request.method not in ("GET", "HEAD", "POST"):
            return error(405, "GET and POST only are supported.")
        checked = self.check_headers(request)
        if isinstance(checked, Response):
            return checked
        instance_id, tenant_id = checked
        data = await self.instance(instance_id)
        if data is None or data.project_id != tenant_id:
            LOG.warning("metadata for %s refused: no such instance in project %s",
                        instance_id, tenant_id)
            return error(404)
        try:
            found = tree.lookup(data, path)
        except tree.NotFound:
            return error(404)
        if found is tree.PASSWORD:
            return await self.password(request, instance_id)
        if request.method == "POST":
            return error(405, "Only the password may be POSTed.")
        if instance_id not in self._seen:
            await run_in_threadpool(self.mark_read, instance_id)
        body, ctype = found
        return Response(body, media_type=ctype)

    def check_headers(self, request: Request):
        headers = request.headers
        ids = headers.getlist("x-instance-id")
        tenants = headers.getlist("x-tenant-id")
        signature = headers.get("x-instance-id-signature")
        if not ids:
            return error(400, "X-Instance-ID header is missing from request.")
        if signature is None:
            return error(400, "X-Instance-ID-Signature header is missing from request.")
        if not tenants:
            return error(400, "X-Tenant-ID header is missing from request.")
        if len(ids) > 1:
            return error(400, "Multiple X-Instance-ID headers found within request.")
        if len(tenants) > 1:
            return error(400, "Multiple X-Tenant-ID headers found within request.")
        wanted = expected_signature(self.svc.settings.shared_secret, ids[0])
        if not hmac.compare_digest(wanted.encode(), signature.encode()):
            LOG.warning("X-Instance-ID-Signature %r does not match instance %s (from %s)",
                        signature, ids[0], headers.get("x-forwarded-for"))
            return error(403, "Invalid proxy request signature.")
        return ids[0], tenants[0]

    # -- instance data, cached
    async def instance(self, instance_id: str) -> tree.InstanceData | None:
        cached = self._cache.get(instance_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        data = await run_in_threadpool(self.load, instance_id)
        if self.ttl > 0:
            self._cache[instance_id] = (time.monotonic() + self.ttl, data)
        return data

    def load(self, instance_id: str) -> tree.InstanceData | None:
        store = self.svc.store
        row = store.query(lambda conn: conn.execute(
            select(I).where(I.c.uuid == instance_id)).first())
        if row is None:
            return None
        order = store.query(lambda conn: instances.port_order(conn, [row.uuid]))
        info = netinfo.gather(self.svc.networking, [row.uuid], order)[row.uuid]
        return instance_data(row, info, self.svc.settings.dhcp_domain)

    def mark_read(self, instance_id: str) -> None:
        self.svc.store.write(lambda conn: instances.metadata_read(conn, instance_id))
        if len(self._seen) > 100000:  # a bound, not a cache: marking again is harmless
            self._seen.clear()
        self._seen.add(instance_id)

    # -- password: GET it, POST it once
    async def password(self, request: Request, instance_id: str) -> Response:
        store = self.svc.store
        current = await run_in_threadpool(store.query, lambda conn: conn.execute(
            select(I.c.password).where(I.c.uuid == instance_id)).scalar())
        if request.method != "POST":
            return Response(current or "", media_type=tree.TEXT)
        if current:
            return error(409, "Password already set.")
        body = await request.body()
        if len(body) > MAX_PASSWORD:
            return error(400, "Request is too large.")
        text = body.decode("utf-8", "replace")

        def save(conn):
            return conn.execute(update(I).where(I.c.uuid == instance_id,
                                                I.c.password.is_(None) | (I.c.password == ""))
                                .values(password=text, updated_at=now())).rowcount

        if not await run_in_threadpool(store.write, save):
            return error(409, "Password already set.")
        return Response(b"", media_type=tree.TEXT)


def instance_data(row, info: netinfo.NetInfo, dhcp_domain: str) -> tree.InstanceData:
    img = catalog.image(row.image_ref)
    flavor = catalog.flavor(row.flavor_id)
    hostname = f"{row.hostname}.{dhcp_domain}" if dhcp_domain else row.hostname
    return tree.InstanceData(
        uuid=row.uuid, name=row.display_name, hostname=hostname, project_id=row.project_id,
        ec2_id=row.id, image_ec2_id=img.ec2_id if img else 0,
        launch_index=row.launch_index, reservation_id=row.reservation_id,
        availability_zone=row.availability_zone,
        flavor_name=flavor.name if flavor else row.flavor_id,
        security_groups=list(row.security_groups or []), meta=dict(row.meta or {}),
        key_name=row.key_name, key_data=row.key_data, key_type=row.key_type or "ssh",
        user_data=tree.decode_user_data(row.user_data),
        fixed_ips=info.fixed_ips(4), floating_ips=info.floating(),
        network_data=netinfo.network_data(info),
        random_seed=b64encode(secrets.token_bytes(512)).decode())


def create_metadata_app(svc) -> MetadataService:
    return MetadataService(svc)
