"""Servers as the Compute API shows them (microversion 2.1), and their states.

A server's life in Nova's terms: ``vm_state`` building -> active (or error), stopped when
its guest is off; ``task_state`` says what the API is doing to it (networking while its
ports are made, spawning while its host starts the guest, deleting). The ``status`` the
API shows is derived from both. Pure: rows and ``NetInfo`` in, dicts out.
"""

from __future__ import annotations

import hashlib

from fermion.compute import catalog
from fermion.compute.netinfo import NetInfo, addresses

BUILDING, ACTIVE, STOPPED, ERROR = "building", "active", "stopped", "error"
STATUS_OF = {BUILDING: "BUILD", ACTIVE: "ACTIVE", STOPPED: "SHUTOFF", ERROR: "ERROR"}
VM_STATES_OF = {status: state for state, status in STATUS_OF.items()}
# OS-EXT-STS:power_state numbers, and the words a compute agent reports
POWER = {"nostate": 0, "running": 1, "paused": 3, "shutdown": 4, "crashed": 6,
         "suspended": 7}
NETWORKING, SPAWNING, DELETING = "networking", "spawning", "deleting"


def status(row) -> str:
    return STATUS_OF.get(row.vm_state, "UNKNOWN")


def host_id(project_id: str, host: str | None) -> str:
    """Nova's ``hostId``: the same for a project's servers on one host, opaque otherwise."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def links(base: str, uuid: str) -> list[dict]:
    return [{"rel": "self", "href": f"{base}/v2.1/servers/{uuid}"},
            {"rel": "bookmark", "href": f"{base}/servers/{uuid}"}]


def summary(row, base: str) -> dict:
    return {"id": row.uuid, "name": row.display_name, "links": links(base, row.uuid)}


def detail(row, info: NetInfo | None, base: str, *, admin: bool) -> dict:
    img = catalog.image(row.image_ref)
    view = {
        "id": row.uuid, "name": row.display_name, "status": status(row),
        "tenant_id": row.project_id, "user_id": row.user_id, "metadata": row.meta or {},
        "hostId": host_id(row.project_id, row.host),
        "image": {"id": row.image_ref,
                  "links": [{"rel": "bookmark", "href": f"{base}/images/{row.image_ref}"}]}
        if img or row.image_ref else "",
        "flavor": {"id": row.flavor_id, "links": [catalog.flavor_links(base, row.flavor_id)[1]]},
        "created": row.created_at, "updated": row.updated_at or row.created_at,
        "addresses": addresses(info) if info else {},
        "accessIPv4": "", "accessIPv6": "", "links": links(base, row.uuid),
        "OS-DCF:diskConfig": "MANUAL", "progress": 0,
        "OS-EXT-AZ:availability_zone": row.availability_zone,
        "config_drive": row.config_drive, "key_name": row.key_name,
        "OS-SRV-USG:launched_at": _usage_time(row.launched_at),
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": row.task_state, "OS-EXT-STS:vm_state": row.vm_state,
        "OS-EXT-STS:power_state": row.power_state,
        "os-extended-volumes:volumes_attached": [],
    }
    if row.security_groups:
        view["security_groups"] = [{"name": name} for name in row.security_groups]
    if admin:
        view["OS-EXT-SRV-ATTR:host"] = row.host
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = row.host
        view["OS-EXT-SRV-ATTR:instance_name"] = instance_name(row.id)
    if row.vm_state == ERROR and row.fault:
        fault = {k: row.fault[k] for k in ("code", "message", "created") if k in row.fault}
        if admin and row.fault.get("details"):
            fault["details"] = row.fault["details"]
        view["fault"] = fault
    return view


def instance_name(row_id: int) -> str:
    return f"instance-{row_id:08x}"


def _usage_time(stamp: str | None) -> str | None:
    """Nova shows launched_at without the zone: 2026-11-27T08:56:09.000000."""
    return stamp.rstrip("Z") + ".000000" if stamp else None


def created(row, base: str, admin_pass: str | None) -> dict:
    """The body of a 202 to a server create."""
    view = {"id": row.uuid, "links": links(base, row.uuid), "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": n} for n in row.security_groups]}
    if admin_pass:
        view["adminPass"] = admin_pass
    return view


# -- how a report from the compute host moves a server ----------------------------------------

def after_report(vm_state: str, task_state: str | None, power_state: int, lease: bool,
                 metadata_read: bool, fault: str | None) -> tuple[str, str | None]:
    """(vm_state, task_state) once the host reported ``power_state``/``lease``/``fault``
    and the guest did (``metadata_read``) or did not read its metadata yet.

    BUILD becomes ACTIVE when the guest runs, has its DHCP lease and has read its metadata;
    a fault makes any server ERROR; a running server whose guest stops is SHUTOFF and
    becomes ACTIVE again when it runs. A server being deleted does not move.
    """
    if task_state == DELETING:
        return vm_state, task_state
    if fault:
        return ERROR, None
    running = power_state == POWER["running"]
    if vm_state == BUILDING:
        if running and lease and metadata_read:
            return ACTIVE, None
        return BUILDING, task_state
    if vm_state == ACTIVE and power_state in (POWER["shutdown"], POWER["crashed"]):
        return STOPPED, None
    if vm_state == STOPPED and running:
        return ACTIVE, None
    return vm_state, task_state
