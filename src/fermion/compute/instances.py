"""Reading servers (list, detail, show) and what compute hosts report about them.

Lists follow Nova's 2.1 rules: a project's own servers (admins: ``all_tenants`` for every
project), newest first, ``limit``/``marker`` with ``servers_links``, filters ``name``
(a regular expression), ``status``, ``image``, ``flavor``, ``changes-since`` and, for
admins, ``host``, ``project_id``/``tenant_id``. Unknown filters are ignored, as Nova does
at 2.1. Addresses come from the Networking API (``netinfo.gather``), one round of lists
per page.

Compute hosts report through the internal endpoints (``routes_internal``): their heartbeat
(``report_host``), their servers' guests (``report_instances``: power state, DHCP lease,
fault, console log) and the metadata service marks when a guest read its metadata
(``metadata_read``); ``views.after_report`` decides what that means for the server's state.
"""

from __future__ import annotations

import logging
import re
import time

from sqlalchemy import select, update

from fermion.compute import catalog, netinfo, views
from fermion.compute.http import Caller, bad
from fermion.compute.neutron import NeutronFailure
from fermion.compute.store import now
from fermion.compute.tables import instance_ports as IP
from fermion.compute.tables import instances as I
from fermion.compute.tables import services as S

LOG = logging.getLogger(__name__)
CONSOLE_KEEP = 256 * 1024   # bytes of console log kept per server
ADMIN_FILTERS = {"host", "project_id", "tenant_id"}


def query(conn, caller: Caller, params: dict[str, str]) -> list:
    stmt = select(I)
    all_tenants = caller.is_admin and params.get("all_tenants", "0").lower() not in (
        "0", "false", "off", "no")
    if caller.is_admin and (params.get("project_id") or params.get("tenant_id")):
        stmt = stmt.where(I.c.project_id == (params.get("project_id")
                                             or params.get("tenant_id")))
    elif not all_tenants:
        stmt = stmt.where(I.c.project_id == caller.project_id)
    if caller.is_admin and params.get("host"):
        stmt = stmt.where(I.c.host == params["host"])
    if "status" in params:
        state = views.VM_STATES_OF.get(params["status"].upper())
        if state is None:
            raise bad("Invalid status value")
        stmt = stmt.where(I.c.vm_state == state)
    if params.get("image"):
        stmt = stmt.where(I.c.image_ref == catalog.ref_id(params["image"]))
    if params.get("flavor"):
        stmt = stmt.where(I.c.flavor_id == catalog.ref_id(params["flavor"]))
    if params.get("changes-since"):
        stmt = stmt.where(I.c.updated_at >= _stamp(params["changes-since"]))
    rows = conn.execute(stmt.order_by(I.c.created_at.desc(), I.c.id.desc())).all()
    if params.get("name"):
        rows = [r for r in rows if _name_matches(params["name"], r.display_name)]
    return _page(rows, params)


def _name_matches(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return pattern in name


def _stamp(value: str) -> str:
    if not re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?",
                        value):
        raise bad("The value of changes-since must be an ISO 8601 timestamp.")
    return value


def _page(rows: list, params: dict[str, str]) -> list:
    marker = params.get("marker")
    if marker:
        ids = [r.uuid for r in rows]
        if marker not in ids:
            raise bad(f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1:]
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise bad(f"Invalid input for query parameters limit. Value: "
                      f"{params['limit']}. '{params['limit']}' is not an integer") from None
        if limit < 0:
            raise bad("limit must be >= 0")
        rows = rows[:limit]
    return rows


def next_link(base: str, rows: list, params: dict[str, str]) -> list[dict]:
    if "limit" not in params or len(rows) < int(params["limit"]) or not rows:
        return []
    kept = "&".join(f"{k}={v}" for k, v in params.items() if k not in ("marker",))
    return [{"rel": "next",
             "href": f"{base}/v2.1/servers/detail?{kept}&marker={rows[-1].uuid}"}]


def port_order(conn, uuids: list[str]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    if not uuids:
        return order
    rows = conn.execute(select(IP).where(IP.c.instance_uuid.in_(uuids))
                        .order_by(IP.c.position)).all()
    for row in rows:
        order.setdefault(row.instance_uuid, []).append(row.port_id)
    return order


def network_info(svc, rows: list) -> dict[str, netinfo.NetInfo]:
    """Each server's NetInfo; {} (no addresses) when the Networking API cannot answer."""
    uuids = [r.uuid for r in rows]
    order = svc.store.query(lambda conn: port_order(conn, uuids))
    try:
        return netinfo.gather(svc.networking, uuids, order)
    except (NeutronFailure, OSError) as error:
        LOG.warning("no addresses: the Networking API failed: %s", error)
        return {}
    except Exception as error:  # httpx errors and the like: show servers without addresses
        LOG.warning("no addresses: %s", error)
        return {}


# -- what compute hosts report -----------------------------------------------------------------

def report_host(conn, host: str, zone: str) -> dict:
    stamp = now()
    values = {"availability_zone": zone, "updated_at": stamp, "reported_at": time.time()}
    done = conn.execute(update(S).where(S.c.host == host).values(**values)).rowcount
    if not done:
        conn.execute(S.insert(), {"host": host, "binary": "nova-compute", "disabled": False,
                                  "created_at": stamp, **values})
    return {"host": host, "availability_zone": zone, "updated_at": stamp}


def host_instances(conn, host: str) -> list:
    """A host's servers that its agent should run: not being made, not being deleted."""
    return conn.execute(select(I).where(I.c.host == host, I.c.vm_state != views.ERROR,
                                        (I.c.task_state.is_(None))
                                        | I.c.task_state.notin_((views.NETWORKING,
                                                                 views.DELETING)))
                        .order_by(I.c.created_at)).all()


def snapshot_view(row, info: netinfo.NetInfo | None) -> dict:
    img = catalog.image(row.image_ref)
    return {"id": row.uuid, "name": row.display_name, "hostname": row.hostname,
            "project_id": row.project_id, "status": views.status(row),
            "vm_state": row.vm_state, "task_state": row.task_state,
            "power_state": row.power_state, "flavor_id": row.flavor_id,
            "image": {"id": row.image_ref, "name": img.name if img else None,
                      "init": img.init if img else None},
            "instance_name": views.instance_name(row.id),
            "ports": netinfo.agent_ports(info) if info else []}


def report_instance(conn, host: str, item: dict) -> dict:
    """Apply one guest report from ``host``; the server's resulting status (or an error)."""
    row = conn.execute(select(I).where(I.c.uuid == item["id"])).first()
    if row is None:
        return {"id": item["id"], "error": "not found"}
    if row.host != host:
        return {"id": item["id"], "error": f"not on host {host}"}
    power = views.POWER[item.get("power_state", "nostate")]
    lease = bool(item.get("lease", row.lease))
    read = bool(item.get("metadata")) or row.metadata_read
    values = {"power_state": power, "lease": lease, "metadata_read": read}
    if item.get("console") is not None:
        values["console_log"] = item["console"][-CONSOLE_KEEP:]
    fault = item.get("fault")
    if fault:
        values["fault"] = {"code": 500, "message": fault[:255], "details": fault,
                           "created": now()}
    return _advance(conn, row, values, fault)


def metadata_read(conn, uuid: str) -> None:
    """The metadata service served this server: it may be ACTIVE now."""
    row = conn.execute(select(I).where(I.c.uuid == uuid)).first()
    if row is not None and not row.metadata_read:
        _advance(conn, row, {"metadata_read": True}, None)


def _advance(conn, row, values: dict, fault: str | None) -> dict:
    vm_state, task_state = views.after_report(
        row.vm_state, row.task_state, values.get("power_state", row.power_state),
        values.get("lease", row.lease), values.get("metadata_read", row.metadata_read),
        fault)
    values.update(vm_state=vm_state, task_state=task_state, updated_at=now())
    if vm_state == views.ACTIVE and not row.launched_at:
        values["launched_at"] = values["updated_at"]
    conn.execute(update(I).where(I.c.uuid == row.uuid).values(**values))
    return {"id": row.uuid, "status": views.STATUS_OF[vm_state], "vm_state": vm_state}
