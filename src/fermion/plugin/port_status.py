"""Port status reports: an agent says which ports it has wired (ACTIVE) or lost (DOWN).

The report names the reporting host. A port bound to another host is left alone (as
Neutron ignores a device reported from the wrong host); an unbound port reported ACTIVE is
bound to the reporting host, since that is where it is plugged. ACTIVE also makes the
binding Open vSwitch's: ``binding:vif_type`` "ovs" and ``binding:vif_details`` from the
host's Open vSwitch agent (its ``integration_bridge`` and ``datapath_type``). A port that
is administratively down, or on a network that is, stays DOWN (though bound) whatever is
reported.
Only real changes are written (bumping the port's revision_number and logging a change).
Network ``status`` is not touched: as in Neutron's ML2, a network is ACTIVE from creation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from fermion.db import models
from fermion.exceptions import bad
from fermion.plugin import binding, listing

P = models.ports
N = models.networks
STATUSES = ("ACTIVE", "DOWN")


def parse(body: Any, *, key: str = "ports",
          statuses: tuple[str, ...] = STATUSES) -> tuple[str, list[dict]]:
    """``{"host": H, key: [{"id", "status"}, ...]}`` -> (host, reports); 400 otherwise."""
    if not isinstance(body, dict):
        raise bad("Body contains invalid data")
    host = body.get("host")
    if not isinstance(host, str) or not host or len(host) > 255:
        raise bad("Invalid input for host. Reason: a non-empty string of at most 255 "
                  "characters is required.")
    reports = body.get(key)
    if not isinstance(reports, list):
        raise bad(f"Unable to find '{key}' (a list) in request body")
    out = []
    for report in reports:
        if not isinstance(report, dict) or not isinstance(report.get("id"), str):
            raise bad(f"Invalid input for {key}. Reason: each entry needs an 'id'.")
        if report.get("status") not in statuses:
            raise bad(f"Invalid input for status. Reason: '{report.get('status')}' is not "
                      f"in {list(statuses)}.")
        out.append({"id": report["id"], "status": report["status"]})
    return host, out


def report(plugin, conn: Connection, host: str, reports: list[dict]) -> list[dict]:
    """Apply the reports; one result per port: updated, unchanged, not_found, wrong_host.

    A port reported twice counts once, with its last status.
    """
    reports = list({r["id"]: r for r in reports}.values())
    ids = sorted(r["id"] for r in reports)
    rows = {}
    for part in listing.chunks(ids):
        rows.update((row.id, row) for row in conn.execute(
            select(P).where(P.c.id.in_(part)).order_by(P.c.id).with_for_update()))
    network_up = dict(conn.execute(select(N.c.id, N.c.admin_state_up).where(
        N.c.id.in_({row.network_id for row in rows.values()}))).all())
    details = binding.vif_details(conn, host) if rows else {}
    results = []
    for item in reports:
        row = rows.get(item["id"])
        if row is None:
            results.append({"id": item["id"], "status": None, "result": "not_found"})
            continue
        if row.binding_host_id and row.binding_host_id != host:
            results.append({"id": row.id, "status": row.status, "result": "wrong_host"})
            continue
        wired = item["status"] == "ACTIVE"
        status = "ACTIVE" if wired and row.admin_state_up and network_up.get(
            row.network_id) else "DOWN"
        values: dict[str, Any] = {}
        if row.status != status:
            values["status"] = status
        if wired:  # plugged on this host: bound here, to Open vSwitch
            if not row.binding_host_id:
                values["binding_host_id"] = host
            if row.binding_vif_type != "ovs":
                values["binding_vif_type"] = "ovs"
            if row.binding_vif_details != details:
                values["binding_vif_details"] = details
        if values:
            plugin.ports.update_row(conn, row, values)
        results.append({"id": row.id, "status": status,
                        "result": "updated" if values else "unchanged"})
    return results
