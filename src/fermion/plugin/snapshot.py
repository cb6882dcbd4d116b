"""A host's snapshot: everything the agents of one host need, read at one revision.

Read in one snapshot transaction (``Database.read_snapshot``) together with the newest
revision R, so it is exactly the state after change R; the agent then watches the change
feed from R. Objects appear once each, as the API shows them to an admin:

- ``ports``: ports bound to the host (``binding:host_id``), all ports of the networks its
  DHCP agent serves, and the ports of the routers its L3 agent hosts;
- ``networks`` of all those ports and DHCP networks, each with ``segments`` (Neutron's
  multi-provider form, given for one segment too), and all their ``subnets``;
- ``security_groups`` of those ports (with their ``security_group_rules``, each with
  ``_protocol_number``: the IANA number the data plane matches, so agents never read
  protocol names; see ``sg_rules.agent_protocol_number``) and ``security_group_members``:
  for every group a rule names as ``remote_group_id``, the IP addresses of its member
  ports (fixed IPs and allowed address pairs);
- ``dhcp_networks``: ids of the networks the host's DHCP agent serves;
- ``routers`` its L3 agent hosts, each with ``_interfaces`` (its port ids, gateway port
  excluded), ``gw_port_id`` and ``_floatingips`` (ids into ``floatingips``);
- ``agents`` of the host, and ``tunnel_endpoints``: every agent that reports a
  ``tunneling_ip`` (host, IP, tunnel types, alive), for the VXLAN peers;
- ``remote_ports``: for l2population, the ports of the host's networks that are bound to
  other hosts, in short form (id, network_id, mac_address, fixed_ips, binding:host_id,
  status) — enough for br-tun unicast and ARP responder entries.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from fermion.db import models
from fermion.plugin import ip_allocation, listing, sg_rules
from fermion.plugin.agents import ADMIN, DHCP, L3
from fermion.plugin.feed import current_revision
from fermion.plugin.ml2 import segments as seg_db
from fermion.plugin.owners import ROUTER_GW

P, N, S = models.ports, models.networks, models.subnets
A = models.agents
SGB = models.securitygroupportbindings
SG = models.securitygroups
R, RP, FIP = models.routers, models.routerports, models.floatingips


def _rows(conn: Connection, table, column, ids) -> list:
    out = []
    for part in listing.chunks(sorted(set(ids))):
        out.extend(conn.execute(select(table).where(column.in_(part))).all())
    return out


def _ids(conn: Connection, stmt) -> list[str]:
    return list(conn.execute(stmt).scalars())


def _admin_views(resource, conn: Connection, rows: list) -> list[dict]:
    """The API's view of the rows, as an admin sees them."""
    return resource.views(conn, ADMIN, rows) if rows else []


def host_snapshot(plugin, conn: Connection, host: str) -> dict:
    revision = current_revision(conn)
    agents = plugin.agents.on_host(conn, host)
    dhcp_ids = [a.id for a in agents if a.agent_type == DHCP]
    l3_ids = [a.id for a in agents if a.agent_type == L3]
    NB, RB = models.networkdhcpagentbindings, models.routerl3agentbindings
    dhcp_networks = sorted(set(_ids(conn, select(NB.c.network_id).where(
        NB.c.dhcp_agent_id.in_(dhcp_ids))))) if dhcp_ids else []
    router_ids = sorted(set(_ids(conn, select(RB.c.router_id).where(
        RB.c.l3_agent_id.in_(l3_ids))))) if l3_ids else []

    port_rows = {row.id: row for row in conn.execute(
        select(P).where(P.c.binding_host_id == host)).all()}
    port_rows.update((row.id, row) for row in _rows(conn, P, P.c.network_id, dhcp_networks))
    router_ports = conn.execute(select(RP).where(RP.c.router_id.in_(router_ids))).all() \
        if router_ids else []
    port_rows.update((row.id, row) for row in _rows(conn, P, P.c.id,
                                                    [rp.port_id for rp in router_ports]))
    ports = sorted(port_rows.values(), key=lambda r: r.id)
    network_ids = {row.network_id for row in ports} | set(dhcp_networks)
    networks = sorted(_rows(conn, N, N.c.id, network_ids), key=lambda r: r.id)
    subnets = sorted(_rows(conn, S, S.c.network_id, network_ids),
                     key=lambda r: (r.network_id, r.created_at, r.id))

    port_views = plugin.ports.views(conn, ADMIN, ports)
    group_ids = sorted({g for view in port_views for g in view["security_groups"]})
    groups = _admin_views(plugin.securitygroups, conn, _rows(conn, SG, SG.c.id, group_ids))
    for group in groups:
        for rule in group.get("security_group_rules", []):
            rule["_protocol_number"] = sg_rules.agent_protocol_number(rule)
    routers = _routers(plugin, conn, router_ids, router_ports)
    fip_rows = _rows(conn, FIP, FIP.c.router_id, router_ids)
    return {
        "revision": revision,
        "host": host,
        "agents": plugin.agents.views(agents),
        "networks": _network_views(plugin, conn, networks),
        "subnets": plugin.subnets.views(conn, ADMIN, subnets),
        "ports": port_views,
        "security_groups": groups,
        "security_group_members": _members(conn, groups),
        "dhcp_networks": dhcp_networks,
        "routers": routers,
        "floatingips": _admin_views(plugin.floatingips, conn, fip_rows),
        "tunnel_endpoints": _tunnel_endpoints(plugin, conn),
        "remote_ports": _remote_ports(conn, host, {row.network_id for row in port_rows.values()
                                                   if row.binding_host_id == host}),
    }


def _remote_ports(conn: Connection, host: str, network_ids: set[str]) -> list[dict]:
    rows = [row for row in _rows(conn, P, P.c.network_id, network_ids)
            if row.binding_host_id and row.binding_host_id != host]
    ips = ip_allocation.of_ports(conn, [row.id for row in rows]) if rows else {}
    return [{"id": row.id, "network_id": row.network_id, "mac_address": row.mac_address,
             "fixed_ips": ips.get(row.id, []),
             "binding:host_id": row.binding_host_id, "status": row.status}
            for row in sorted(rows, key=lambda r: r.id)]


def _network_views(plugin, conn: Connection, rows: list) -> list[dict]:
    views = plugin.networks.views(conn, ADMIN, rows)
    segments = seg_db.by_network(conn, [row.id for row in rows]) if rows else {}
    for view in views:
        view["segments"] = [{"provider:network_type": s["network_type"],
                             "provider:physical_network": s["physical_network"],
                             "provider:segmentation_id": s["segmentation_id"]}
                            for s in segments.get(view["id"], [])]
    return views


def _routers(plugin, conn: Connection, router_ids: list[str], router_ports: list) -> list:
    rows = _rows(conn, R, R.c.id, router_ids)
    views = _admin_views(plugin.routers, conn, sorted(rows, key=lambda r: r.id))
    gateways = {row.id: row.gw_port_id for row in rows}
    interfaces: dict[str, list[str]] = {}
    for rp in router_ports:
        if rp.port_type != ROUTER_GW and rp.port_id != gateways.get(rp.router_id):
            interfaces.setdefault(rp.router_id, []).append(rp.port_id)
    fips: dict[str, list[str]] = {}
    if router_ids:
        for fip_id, router_id in conn.execute(select(FIP.c.id, FIP.c.router_id).where(
                FIP.c.router_id.in_(router_ids))).all():
            fips.setdefault(router_id, []).append(fip_id)
    for view in views:
        view["gw_port_id"] = gateways.get(view["id"])
        view["_interfaces"] = sorted(interfaces.get(view["id"], []))
        view["_floatingips"] = sorted(fips.get(view["id"], []))
    return views


def _members(conn: Connection, groups: list[dict]) -> dict[str, list[str]]:
    remote = sorted({rule.get("remote_group_id") for g in groups
                     for rule in g.get("security_group_rules", [])} - {None})
    if not remote:
        return {}
    bindings = conn.execute(select(SGB.c.security_group_id, SGB.c.port_id).where(
        SGB.c.security_group_id.in_(remote))).all()
    port_ids = sorted({b.port_id for b in bindings})
    ips = ip_allocation.of_ports(conn, port_ids) if port_ids else {}
    pairs = dict(conn.execute(select(P.c.id, P.c.allowed_address_pairs).where(
        P.c.id.in_(port_ids))).all()) if port_ids else {}
    members: dict[str, set[str]] = {group: set() for group in remote}
    for group_id, port_id in bindings:
        members[group_id].update(f["ip_address"] for f in ips.get(port_id, []))
        members[group_id].update(p["ip_address"] for p in pairs.get(port_id) or [])
    return {group: sorted(addresses) for group, addresses in members.items()}


def _tunnel_endpoints(plugin, conn: Connection) -> list[dict]:
    cutoff = plugin.agents.alive_cutoff()
    out = []
    for row in conn.execute(select(A).order_by(A.c.host, A.c.agent_type)).all():
        ip = (row.configurations or {}).get("tunneling_ip")
        if ip:
            out.append({"host": row.host, "agent_type": row.agent_type, "tunneling_ip": ip,
                        "tunnel_types": row.configurations.get("tunnel_types", []),
                        "alive": row.heartbeat_timestamp >= cutoff})
    return out
