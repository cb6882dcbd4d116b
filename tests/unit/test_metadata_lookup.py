"""The metadata agent's pure side: which headers it trusts, how it finds the instance,
what it forwards, and its cache."""

from __future__ import annotations

import hashlib
import hmac

from fermion.agent.metadata_lookup import (
    Instance,
    LookupCache,
    Source,
    find_instance,
    forward_headers,
    source_of,
)

ROUTER, NET = "r-1", "n-1"


def headers(**lines):
    return lambda name: lines.get(name.replace("-", "_"), [])


def test_source_trusts_only_the_proxys_last_forwarded_for():
    # the instance sent its own X-Forwarded-For; haproxy appended the real one
    src = source_of(headers(x_forwarded_for=["10.0.0.99", "10.0.0.5"],
                            x_neutron_router_id=[ROUTER]))
    assert src == Source("router", ROUTER, "10.0.0.5")
    src = source_of(headers(x_forwarded_for=["10.0.0.99, 10.0.0.5"],
                            x_neutron_network_id=[NET]))
    assert src == Source("network", NET, "10.0.0.5")
    assert source_of(headers(x_forwarded_for=["10.0.0.5"])) is None
    assert source_of(headers(x_neutron_router_id=[ROUTER])) is None
    assert source_of(headers(x_forwarded_for=["not-an-ip"], x_neutron_router_id=[ROUTER])) \
        is None


class Ports:
    """Stands in for ServerClient.list_ports over a fixed set of ports."""

    def __init__(self, ports):
        self.ports, self.calls = ports, []

    def list_ports(self, **filters):
        self.calls.append(filters)

        def match(port):
            for key, wanted in filters.items():
                wanted = wanted if isinstance(wanted, list) else [wanted]
                if key == "fixed_ips":
                    ips = [f"ip_address={ip['ip_address']}" for ip in port["fixed_ips"]]
                    if not set(wanted) & set(ips):
                        return False
                elif port.get(key) not in wanted:
                    return False
            return True

        return [p for p in self.ports if match(p)]


def port(device_id, owner, network, ip, project="p1"):
    return {"device_id": device_id, "device_owner": owner, "network_id": network,
            "project_id": project, "fixed_ips": [{"ip_address": ip}]}


WORLD = [port(ROUTER, "network:router_interface", "n-a", "10.0.0.1", ""),
         port(ROUTER, "network:router_gateway", "ext", "172.24.4.5", ""),
         port("vm-a", "compute:nova", "n-a", "10.0.0.5"),
         port("vm-b", "compute:nova", "n-b", "10.0.0.5", "p2"),   # same IP elsewhere
         port("vm-ext", "compute:nova", "ext", "172.24.4.7"),
         port("dhcp-x", "network:dhcp", "n-b", "10.0.0.2")]


def test_find_instance_by_router_and_by_network():
    client = Ports(WORLD)
    assert find_instance(client, Source("router", ROUTER, "10.0.0.5")) == \
        Instance("vm-a", "p1")
    assert find_instance(client, Source("network", "n-b", "10.0.0.5")) == \
        Instance("vm-b", "p2")
    # the router's gateway network is not one of its internal networks
    assert find_instance(client, Source("router", ROUTER, "172.24.4.7")) is None
    # an address with no port, a DHCP port, an unknown router: nobody
    assert find_instance(client, Source("network", "n-b", "10.0.0.9")) is None
    assert find_instance(client, Source("network", "n-b", "10.0.0.2")) is None
    assert find_instance(client, Source("router", "r-none", "10.0.0.5")) is None


def test_forwarded_headers_are_signed_and_drop_what_the_instance_sent():
    src, inst = Source("router", ROUTER, "10.0.0.5"), Instance("vm-a", "p1")
    out = forward_headers({"accept": "*/*", "x-instance-id": "vm-b", "x-tenant-id": "p2"},
                          src, inst, "s3cret")
    assert out == {"accept": "*/*", "X-Forwarded-For": "10.0.0.5", "X-Instance-ID": "vm-a",
                   "X-Tenant-ID": "p1",
                   "X-Instance-ID-Signature": hmac.new(b"s3cret", b"vm-a",
                                                       hashlib.sha256).hexdigest()}


def test_cache_expires_and_clear_wins_over_lookups_in_flight():
    now = [100.0]
    cache = LookupCache(5, clock=lambda: now[0])
    src = Source("network", NET, "10.0.0.5")
    hit, _, gen = cache.get(src)
    assert not hit
    cache.put(src, Instance("vm-a", "p1"), gen)
    assert cache.get(src)[:2] == (True, Instance("vm-a", "p1"))
    now[0] += 6
    assert not cache.get(src)[0]
    _, _, gen = cache.get(src)
    cache.clear()                       # the feed reported a change meanwhile
    cache.put(src, Instance("stale", "p1"), gen)
    assert not cache.get(src)[0]
    cache.put(src, None, cache.get(src)[2])   # "nobody there" is cached too
    assert cache.get(src)[:2] == (True, None)
    assert len(LookupCache(0)) == 0
