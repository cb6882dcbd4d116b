"""Server create and delete: Nova's way with ports, over the Networking API.

Create (after ``server_request.resolve`` checked everything the request names):

1. schedule: the least busy live compute host of the availability zone (hosts report
   through ``POST /v2.1/fermion/hosts/report``); none -> the server is made in ERROR with
   Nova's "No valid host was found." fault, and no ports;
2. the instance row (BUILD, task ``networking``);
3. its ports: created (``device_id`` = server id, ``device_owner`` ``compute:<az>``, the
   project's security groups, ``dns_name`` = hostname) or taken (given, unused ports);
4. task ``spawning``, then each port bound to the host (``binding:host_id``; taken ports
   get their ``device_id``/``device_owner`` then too). Binding is last on purpose: the
   compute agent wakes on that port change and finds the server complete.

Any failure from 3 on undoes everything (ports deleted or released, row deleted) and the
request fails with the Networking API's reason in Nova's words.

Delete marks the server ``deleting`` (the compute agent's snapshot no longer lists it),
deletes the ports it created, releases the ports it was given, then deletes the row.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
import uuid

from sqlalchemy import delete, func, insert, select, update

from fermion.compute import server_request as reqs
from fermion.compute import views
from fermion.compute.http import Caller, ComputeError, bad, not_found
from fermion.compute.neutron import NeutronFailure
from fermion.compute.store import now
from fermion.compute.tables import instance_ports as IP
from fermion.compute.tables import instances as I
from fermion.compute.tables import services as S

LOG = logging.getLogger(__name__)
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


def create(svc, caller: Caller, body: object):
    """Create a server; returns (instance row, admin password)."""
    server_id = str(uuid.uuid4())
    server, _count = reqs.parse(body, server_id, svc.settings.quota_metadata_items)
    req = svc.store.query(lambda conn: reqs.resolve(server, server_id, caller,
                                                    svc.networking, conn))
    az = req.availability_zone or svc.settings.default_schedule_zone
    host = svc.store.write(lambda conn: _admit(conn, svc, caller, req, server_id, az))
    admin_pass = req.admin_pass or _password()
    if host is None:
        return svc.store.query(lambda conn: get_row(conn, server_id)), admin_pass
    try:
        _plug(svc, caller, req, server_id, host, az or svc.settings.default_zone)
    except NeutronFailure as failure:
        _undo(svc, server_id)
        raise _nova_error(failure) from None
    except Exception:
        _undo(svc, server_id)
        raise
    return svc.store.query(lambda conn: get_row(conn, server_id)), admin_pass


def _admit(conn, svc, caller: Caller, req, server_id: str, az: str | None) -> str | None:
    """Quota, scheduling and the instance row, in one transaction: the chosen host."""
    limit = svc.settings.quota_instances
    if limit >= 0:
        used = conn.execute(select(func.count()).select_from(I)
                            .where(I.c.project_id == caller.project_id)).scalar()
        if used + 1 > limit:
            raise ComputeError(403, f"Quota exceeded for instances: Requested 1, but "
                                    f"already used {used} of {limit} instances")
    hosts = live_hosts(conn, svc.settings.service_down_time)
    if az and az not in {h.availability_zone for h in hosts} \
            and az not in {r.availability_zone for r in conn.execute(select(S)).all()}:
        raise bad("The requested availability zone is not available")
    host = pick_host(conn, [h for h in hosts if az is None or h.availability_zone == az])
    stamp = now()
    conn.execute(insert(I), {
        "uuid": server_id, "display_name": req.name, "hostname": req.hostname,
        "project_id": caller.project_id, "user_id": caller.user_id,
        "image_ref": req.image.id, "flavor_id": req.flavor.id,
        "key_name": req.key.name if req.key else None,
        "key_data": req.key.public_key if req.key else None,
        "key_type": req.key.type if req.key else None, "user_data": req.user_data,
        "meta": req.meta, "security_groups": req.security_groups,
        "availability_zone": az or svc.settings.default_zone, "host": host,
        "launch_index": 0, "reservation_id": "r-" + secrets.token_hex(4),
        "vm_state": views.BUILDING if host else views.ERROR,
        "task_state": views.NETWORKING if host else None, "power_state": 0,
        "lease": False, "metadata_read": False, "config_drive": req.config_drive,
        "fault": None if host else {"code": 500, "message": NO_VALID_HOST,
                                    "created": stamp},
        "created_at": stamp, "updated_at": stamp})
    return host


def live_hosts(conn, down_time: float) -> list:
    since = time.time() - down_time
    return conn.execute(select(S).where(S.c.reported_at >= since, S.c.disabled.is_(False))
                        .order_by(S.c.host)).all()


def pick_host(conn, hosts: list) -> str | None:
    """The host with the fewest servers (ties: by name)."""
    if not hosts:
        return None
    counts = dict(conn.execute(select(I.c.host, func.count()).group_by(I.c.host)).all())
    return min(hosts, key=lambda h: (counts.get(h.host, 0), h.host)).host


def _plug(svc, caller: Caller, req, server_id: str, host: str, az: str) -> None:
    net = svc.networking
    owner = f"compute:{az}"
    rows = []
    for position, nic in enumerate(req.nics):
        if nic.port is not None:
            rows.append({"port_id": nic.port["id"], "network_id": nic.network_id,
                         "position": position, "created": False})
            continue
        body = {"network_id": nic.network_id, "project_id": caller.project_id,
                "device_id": server_id, "device_owner": owner,
                "security_groups": req.security_group_ids, "dns_name": req.hostname}
        if nic.fixed_ip:
            body["fixed_ips"] = [{"ip_address": nic.fixed_ip}]
        port = net.create_port(body)
        rows.append({"port_id": port["id"], "network_id": nic.network_id,
                     "position": position, "created": True})
        svc.store.write(lambda conn, row=rows[-1]: conn.execute(
            insert(IP), {**row, "instance_uuid": server_id}))
    taken = [r for r in rows if not r["created"]]
    if taken:
        svc.store.write(lambda conn: conn.execute(
            insert(IP), [{**r, "instance_uuid": server_id} for r in taken]))
    svc.store.write(lambda conn: conn.execute(
        update(I).where(I.c.uuid == server_id).values(task_state=views.SPAWNING,
                                                      updated_at=now())))
    for row in rows:
        changes = {"binding:host_id": host}
        if not row["created"]:
            changes.update({"device_id": server_id, "device_owner": owner})
        net.update_port(row["port_id"], changes)


def _undo(svc, server_id: str) -> None:
    """Remove what a failed create made (best effort: keep going on errors)."""
    rows = svc.store.query(lambda conn: conn.execute(
        select(IP).where(IP.c.instance_uuid == server_id)).all())
    _release_ports(svc, server_id, rows, strict=False)
    svc.store.write(lambda conn: conn.execute(delete(I).where(I.c.uuid == server_id)))


def _release_ports(svc, server_id: str, rows, *, strict: bool) -> None:
    for row in rows:
        try:
            if row.created:
                svc.networking.delete_port(row.port_id)
            else:
                _unbind(svc, server_id, row.port_id)
        except NeutronFailure as failure:
            if strict:
                raise
            LOG.warning("server %s: port %s left behind: %s", server_id, row.port_id,
                        failure)


def _unbind(svc, server_id: str, port_id: str) -> None:
    port = svc.networking.port(port_id)
    if port is not None and port.get("device_id") == server_id:
        svc.networking.update_port(port_id, {"device_id": "", "device_owner": "",
                                             "binding:host_id": ""})


def remove(svc, caller: Caller, server_id: str) -> None:
    def mark(conn):
        row = visible_row(conn, caller, server_id)
        conn.execute(update(I).where(I.c.uuid == server_id)
                     .values(task_state=views.DELETING, updated_at=now()))
        return conn.execute(select(IP).where(IP.c.instance_uuid == server_id)).all(), row

    ports, row = svc.store.write(mark)
    try:
        _release_ports(svc, server_id, ports, strict=True)
    except NeutronFailure as failure:
        svc.store.write(lambda conn: conn.execute(
            update(I).where(I.c.uuid == server_id).values(task_state=None)))
        raise ComputeError(500, f"Unable to release the ports of server {server_id}: "
                                f"{failure.message}") from None
    svc.store.write(lambda conn: conn.execute(delete(I).where(I.c.uuid == server_id)))


def get_row(conn, server_id: str):
    row = conn.execute(select(I).where(I.c.uuid == server_id)).first()
    if row is None:
        raise not_found(f"Instance {server_id} could not be found.")
    return row


def visible_row(conn, caller: Caller, server_id: str):
    row = conn.execute(select(I).where(I.c.uuid == server_id)).first()
    if row is None or (not caller.is_admin and row.project_id != caller.project_id):
        raise not_found(f"Instance {server_id} could not be found.")
    return row


def _password(length: int = 12) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _nova_error(failure: NeutronFailure) -> ComputeError:
    """A Networking API failure while making a server's ports, in Nova's terms."""
    if failure.type == "OverQuota" or failure.status == 403:
        return ComputeError(403, "Maximum number of ports exceeded")
    if failure.type == "IpAddressGenerationFailure":
        return bad(f"No fixed IP addresses available for network: {failure.message}")
    if failure.status in (400, 404, 409):
        return bad(failure.message)
    return ComputeError(500, f"The Networking API failed: {failure.message}")
