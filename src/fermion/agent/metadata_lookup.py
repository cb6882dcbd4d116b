"""Who is asking for metadata: the metadata agent's lookup and signing.

A request arrives from an haproxy in a ``qrouter-`` or ``qdhcp-`` namespace, which deleted
any ``X-Neutron-Router-ID``/``X-Neutron-Network-ID`` the instance sent and set its own,
and appended the instance's address as the *last* ``X-Forwarded-For`` (haproxy's
``option forwardfor``; an instance may send its own ``X-Forwarded-For`` before it, which is
never read). Header names arrive in lower case from haproxy 2.6; Starlette's headers are
case-insensitive anyway.

The instance is the one ``compute:*`` port with that fixed IP on the router's internal
networks (router path) or on the network (DHCP path), found through the Networking API;
anything else (no port, a DHCP or router port, two ports) is no instance: 404.
Answers are cached for ``[cache] expiration_time`` seconds and the cache is cleared when the
change feed reports any change, so a port that moves never serves another's data.

Pure but for :func:`find_instance`, which takes the client to use.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ROUTER_HEADER, NETWORK_HEADER = "x-neutron-router-id", "x-neutron-network-id"
ROUTER_INTERFACE_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                           "network:ha_router_replicated_interface")
# headers of the instance's request passed on to the metadata service
PASSED = ("accept", "content-type", "user-agent")


@dataclass(frozen=True)
class Source:
    kind: str          # "router" or "network"
    resource_id: str
    address: str


@dataclass(frozen=True)
class Instance:
    instance_id: str
    tenant_id: str


def last_value(values: Sequence[str]) -> str | None:
    """The last comma-separated item of the last header line (the proxy's own)."""
    if not values:
        return None
    item = values[-1].split(",")[-1].strip()
    return item or None


def source_of(getlist) -> Source | None:
    """The request's (router or network, address); ``getlist(name)`` gives a header's
    lines. None when haproxy's headers are missing or the address is not an address."""
    address = last_value(getlist("x-forwarded-for"))
    router, network = last_value(getlist(ROUTER_HEADER)), last_value(getlist(NETWORK_HEADER))
    if not address or not (router or network):
        return None
    try:
        address = str(ipaddress.ip_address(address))
    except ValueError:
        return None
    return Source("router", router, address) if router else Source("network", network,
                                                                     address)


def find_instance(client, source: Source) -> Instance | None:
    """Look the instance up through the Networking API (``client`` is a ServerClient)."""
    if source.kind == "router":
        interfaces = client.list_ports(device_id=source.resource_id,
                                       device_owner=list(ROUTER_INTERFACE_OWNERS))
        networks = sorted({p["network_id"] for p in interfaces})
    else:
        networks = [source.resource_id]
    if not networks:
        return None
    ports = client.list_ports(network_id=networks, fixed_ips=f"ip_address={source.address}")
    ports = [p for p in ports if p.get("device_owner", "").startswith("compute:")
             and p.get("device_id")]
    if len(ports) != 1:
        return None
    port = ports[0]
    return Instance(port["device_id"], port.get("project_id") or port.get("tenant_id", ""))


def sign(secret: str, instance_id: str) -> str:
    """X-Instance-ID-Signature: HMAC-SHA256 of the instance id, hex."""
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def forward_headers(headers: Mapping[str, str], source: Source, instance: Instance,
                    secret: str) -> dict[str, str]:
    """The headers the metadata service gets: a few of the instance's, then ours."""
    out = {name: headers[name] for name in PASSED if name in headers}
    out.update({"X-Forwarded-For": source.address, "X-Instance-ID": instance.instance_id,
                "X-Tenant-ID": instance.tenant_id,
                "X-Instance-ID-Signature": sign(secret, instance.instance_id)})
    return out


class LookupCache:
    """(source) -> Instance or None, for ``ttl`` seconds; ``clear()`` from any thread.

    A lookup that started before a ``clear()`` does not store its (maybe stale) answer.
    """

    def __init__(self, ttl: float, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[Source, tuple[float, Instance | None]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, source: Source) -> tuple[bool, Instance | None, int]:
        """(hit, answer, generation to pass to put)."""
        with self._lock:
            entry = self._entries.get(source)
            if entry is not None and entry[0] > self.clock():
                return True, entry[1], self._generation
            return False, None, self._generation

    def put(self, source: Source, answer: Instance | None, generation: int) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if generation == self._generation:
                self._entries[source] = (self.clock() + self.ttl, answer)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def __len__(self) -> int:
        return len(self._entries)
