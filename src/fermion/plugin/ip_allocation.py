"""IPAM against the database: which addresses a port gets, safely under concurrency.

The subnet row is locked (``SELECT … FOR UPDATE``; SQLite already has one writer) before
reading what is taken, and ``ipallocations`` has (subnet, address) as primary key, so no
address is ever handed out twice; a racing writer's insert fails and its transaction is
retried. Small pools hand out the lowest free address; large pools (over ``SCAN_LIMIT``)
try random addresses first, so allocation cost does not grow with the number of ports.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import statement
from fermion.plugin import ipam
from fermion.plugin.listing import by_ids
from fermion.plugin.owners import ROUTER_GW, ROUTER_INTF_OWNERS

IPA = models.ipallocations
S = models.subnets
SCAN_LIMIT = 1024
_IPA_INSERT = insert(IPA)


def subnets_of(conn: Connection, network_id: str, lock: bool = False) -> list[Any]:
    def build():
        stmt = select(S).where(S.c.network_id == bindparam("network_id")).order_by(
            S.c.created_at, S.c.id)
        return stmt.with_for_update() if lock else stmt

    return conn.execute(statement(("subnets_of", lock), build),
                        {"network_id": network_id}).all()


def _taken(conn: Connection, subnet_id: str, addresses: list[str]) -> set[str]:
    stmt = statement(("ips_taken",), lambda: select(IPA.c.ip_address).where(
        IPA.c.subnet_id == bindparam("subnet_id"),
        IPA.c.ip_address.in_(bindparam("addresses", expanding=True))))
    return set(conn.execute(stmt, {"subnet_id": subnet_id, "addresses": addresses}).scalars())


def _pick(conn: Connection, subnet: Any, pending: frozenset[str] = frozenset()) -> str | None:
    """A free address of the subnet's pools, skipping ``pending`` (chosen earlier in the
    same request but not stored yet)."""
    net = ipam.network(subnet.cidr)
    bounds = ipam.pool_bounds(net, [(p["start"], p["end"]) for p in subnet.allocation_pools])
    size = ipam.pool_size(bounds)
    if size == 0:
        return None
    make = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    if size > SCAN_LIMIT:
        for _ in range(4):
            picks = [str(make(value)) for value in ipam.random_candidates(bounds, 16)]
            taken = _taken(conn, subnet.id, picks) | pending
            free = [p for p in picks if p not in taken]
            if free:
                return free[0]
    used = {int(ipaddress.ip_address(a)) for a in conn.execute(
        select(IPA.c.ip_address).where(IPA.c.subnet_id == subnet.id)).scalars()}
    used |= {int(ipaddress.ip_address(a)) for a in pending}
    for value in ipam.candidates(bounds, used):
        return str(make(value))
    return None


def _check_specific(conn: Connection, subnet: Any, address: str, device_owner: str,
                    network_id: str) -> None:
    net = ipam.network(subnet.cidr)
    ip = ipaddress.ip_address(address)
    if ip.version != net.version or ip not in net:
        raise exc.InvalidIpForSubnet(ip_address=address)
    if net.version == 4 and net.num_addresses > 2 and ip in (net.network_address,
                                                             net.broadcast_address):
        raise exc.InvalidIpForSubnet(ip_address=address)
    if address == subnet.gateway_ip and device_owner not in (*ROUTER_INTF_OWNERS, ROUTER_GW):
        raise exc.IpAddressInUse(net_id=network_id, ip_address=address)
    if _taken(conn, subnet.id, [address]):
        raise exc.IpAddressInUse(net_id=network_id, ip_address=address)


def resolve(conn: Connection, network_id: str, requested: list[dict] | None, mac: str,
            device_owner: str) -> list[dict]:
    """The fixed IPs a port should have: [{"subnet_id", "ip_address"}], not yet stored.

    ``requested`` None means automatic: one address from the first IPv4 subnet with room,
    one from the first stateful IPv6 subnet, and the EUI-64 address on every SLAAC subnet.
    """
    subnets = subnets_of(conn, network_id, lock=True)
    by_id = {s.id: s for s in subnets}
    chosen: list[dict] = []
    if requested is None:
        done_versions: set[int] = set()
        for subnet in subnets:
            if ipam.is_slaac(subnet._mapping):
                chosen.append({"subnet_id": subnet.id,
                               "ip_address": ipam.eui64(ipam.network(subnet.cidr), mac)})
                continue
            if subnet.ip_version in done_versions:
                continue
            address = _pick(conn, subnet)
            if address is not None:
                chosen.append({"subnet_id": subnet.id, "ip_address": address})
                done_versions.add(subnet.ip_version)
        if subnets and not chosen:
            raise exc.IpAddressGenerationFailure(net_id=network_id)
        return chosen
    for entry in requested:
        subnet_id, address = entry.get("subnet_id"), entry.get("ip_address")
        if subnet_id is not None:
            subnet = by_id.get(subnet_id)
            if subnet is None:
                raise exc.InvalidInput(error_message=f"Failed to create port on network "
                                       f"{network_id}, because fixed_ips included invalid "
                                       f"subnet {subnet_id}")
        elif address is not None:
            ip = ipaddress.ip_address(address)
            subnet = next((s for s in subnets if ip in ipam.network(s.cidr)), None)
            if subnet is None:
                raise exc.InvalidIpForNetwork(ip_address=address)
        else:
            raise exc.InvalidInput(error_message="IP allocation requires subnet_id or ip_address")
        if address is not None:
            if any(c["ip_address"] == address and c["subnet_id"] == subnet.id for c in chosen):
                raise exc.IpAddressInUse(net_id=network_id, ip_address=address)
            _check_specific(conn, subnet, address, device_owner, network_id)
        elif ipam.is_slaac(subnet._mapping):
            address = ipam.eui64(ipam.network(subnet.cidr), mac)
        else:
            taken_now = frozenset(c["ip_address"] for c in chosen if c["subnet_id"] == subnet.id)
            address = _pick(conn, subnet, taken_now)
            if address is None:
                raise exc.IpAddressGenerationFailure(net_id=network_id)
        chosen.append({"subnet_id": subnet.id, "ip_address": address})
    return chosen


def store(conn: Connection, port_id: str, network_id: str, fixed_ips: list[dict]) -> None:
    if fixed_ips:
        conn.execute(_IPA_INSERT, [{"port_id": port_id, "network_id": network_id,
                                    "subnet_id": f["subnet_id"], "ip_address": f["ip_address"]}
                                   for f in fixed_ips])


def release(conn: Connection, port_id: str, keep: list[dict] = ()) -> None:
    kept = {(f["subnet_id"], f["ip_address"]) for f in keep}
    for subnet_id, address in conn.execute(select(IPA.c.subnet_id, IPA.c.ip_address)
                                           .where(IPA.c.port_id == port_id)).all():
        if (subnet_id, address) not in kept:
            conn.execute(delete(IPA).where(IPA.c.subnet_id == subnet_id,
                                           IPA.c.ip_address == address))


def of_ports(conn: Connection, port_ids) -> dict[str, list[dict]]:
    """Fixed IPs by port id (``port_ids``: a list or a ``listing.Ids``)."""
    out: dict[str, list[dict]] = {}
    for row in by_ids(conn, "port_ips", lambda ids_in: select(
            IPA.c.port_id, IPA.c.subnet_id, IPA.c.ip_address).where(IPA.c.port_id.in_(ids_in)),
            port_ids):
        port_id, subnet_id, address = row
        entry = {"subnet_id": subnet_id, "ip_address": address}
        if port_id in out:
            out[port_id].append(entry)
        else:
            out[port_id] = [entry]
    return out
