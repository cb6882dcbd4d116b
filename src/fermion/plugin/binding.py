"""A port's binding to a host: Open vSwitch is the only mechanism driver.

A port given a ``binding:host_id`` (on create or update), or reported wired by a host's
L2 agent, is bound there with ``binding:vif_type`` "ovs" and ``binding:vif_details`` from
that host's Open vSwitch agent report (its ``integration_bridge`` and ``datapath_type``),
as Neutron's OVS mechanism driver does; a host whose agent has not reported yet gets the
defaults (br-int, system). A port without a host is "unbound".
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from fermion.db import models
from fermion.plugin.agents import OVS


def vif_details(conn: Connection, host: str) -> dict:
    configs = conn.execute(select(models.agents.c.configurations).where(
        models.agents.c.host == host, models.agents.c.agent_type == OVS)).scalar() or {}
    return {"port_filter": True, "connectivity": "l2",
            "bridge_name": configs.get("integration_bridge", "br-int"),
            "datapath_type": configs.get("datapath_type", "system"),
            "ovs_hybrid_plug": False}


def columns(conn: Connection, host: str, vnic_type: str) -> dict:
    """The port's binding columns for this host ("" = unbound)."""
    if not host:
        return {"binding_host_id": "", "binding_vif_type": "unbound",
                "binding_vnic_type": vnic_type, "binding_vif_details": {}}
    return {"binding_host_id": host, "binding_vif_type": "ovs", "binding_vnic_type": vnic_type,
            "binding_vif_details": vif_details(conn, host)}
