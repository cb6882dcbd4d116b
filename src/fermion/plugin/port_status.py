"""Port status reports: an agent says which ports it has wired (ACTIVE), lost (DOWN) or
cannot wire (ERROR).

The report names the reporting host (``plugin.status_reports``). A port bound to another
host is left alone (as Neutron ignores a device reported from the wrong host); an unbound
port reported ACTIVE is bound to the reporting host, since that is where it is plugged.
ACTIVE also makes the binding Open vSwitch's: ``binding:vif_type`` "ovs" and
``binding:vif_details`` from the host's Open vSwitch agent (``plugin.binding``). A port
that is administratively down, or on a network that is, stays DOWN (though bound) whatever
is reported. ERROR (the agent failed to wire the port: OVS could not open its interface,
…) is shown as such and changes no binding. Network ``status`` is not touched: as in Neutron's ML2, a network is ACTIVE
from creation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from fermion.db import models
from fermion.plugin import binding, status_reports

P = models.ports
N = models.networks


def report(plugin, conn: Connection, host: str, reports: list[dict]) -> list[dict]:
    rows = status_reports.locked_rows(conn, P, reports)
    network_up = dict(conn.execute(select(N.c.id, N.c.admin_state_up).where(
        N.c.id.in_({row.network_id for row in rows.values()}))).all())
    details = binding.vif_details(conn, host) if rows else {}

    def judge(row: Any, reported: str) -> tuple[str, dict] | None:
        if row.binding_host_id and row.binding_host_id != host:
            return None
        wired = reported == "ACTIVE"
        up = row.admin_state_up and network_up.get(row.network_id)
        status = reported if up and reported != "DOWN" else "DOWN"
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
        return status, values

    return status_reports.apply(conn, plugin.ports, rows, reports, judge)


KIND = status_reports.Kind("ports", ("ACTIVE", "DOWN", "ERROR"), "update_fermion_port_status", report)
