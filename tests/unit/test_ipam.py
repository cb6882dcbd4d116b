"""IPAM arithmetic (plugin/ipam.py): gateways, pools, pool validation, EUI-64, candidates."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from fermion import exceptions as exc
from fermion.plugin import ipam


def net(cidr: str):
    return ipam.network(cidr)


# -- default gateway -------------------------------------------------------------------------


@pytest.mark.parametrize("cidr,gateway", [
    ("10.0.0.0/24", "10.0.0.1"),
    ("10.0.0.0/8", "10.0.0.1"),
    ("192.168.1.0/30", "192.168.1.1"),
    ("192.168.1.0/29", "192.168.1.1"),
    ("192.168.1.0/31", None),  # point-to-point: no room for a gateway
    ("192.168.1.7/32", None),
    ("2001:db8::/64", "2001:db8::1"),
    ("2001:db8::/127", "2001:db8::1"),
    ("2001:db8::5/128", None),  # network + 1 would lie outside the subnet
])
def test_default_gateway(cidr, gateway):
    assert ipam.default_gateway(net(cidr)) == gateway


def test_network_accepts_host_bits():
    assert str(ipam.network("10.0.0.77/24")) == "10.0.0.0/24"
    assert str(ipam.network("2001:db8::1/64")) == "2001:db8::/64"


# -- default pools ---------------------------------------------------------------------------


@pytest.mark.parametrize("cidr,gateway,pools", [
    # v4: network and broadcast addresses are never in a pool, nor the gateway
    ("10.0.0.0/24", "10.0.0.1", [("10.0.0.2", "10.0.0.254")]),
    ("10.0.0.0/24", None, [("10.0.0.1", "10.0.0.254")]),
    ("10.0.0.0/24", "10.0.0.254", [("10.0.0.1", "10.0.0.253")]),
    ("10.0.0.0/24", "10.0.0.100", [("10.0.0.1", "10.0.0.99"), ("10.0.0.101", "10.0.0.254")]),
    ("10.0.0.0/24", "10.9.9.9", [("10.0.0.1", "10.0.0.254")]),  # gateway off the subnet
    ("10.0.0.0/30", "10.0.0.1", [("10.0.0.2", "10.0.0.2")]),
    ("10.0.0.0/30", None, [("10.0.0.1", "10.0.0.2")]),
    ("10.0.0.0/31", None, []),
    ("10.0.0.4/32", None, [("10.0.0.4", "10.0.0.4")]),  # a single address is its own pool
    # v6: no broadcast, so the last address is usable; the subnet-router anycast is not
    ("2001:db8::/64", "2001:db8::1",
     [("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")]),
    ("2001:db8::/126", "2001:db8::1", [("2001:db8::2", "2001:db8::3")]),
    ("2001:db8::/127", "2001:db8::1", []),
    ("2001:db8::/127", None, [("2001:db8::1", "2001:db8::1")]),
    ("2001:db8::7/128", None, [("2001:db8::7", "2001:db8::7")]),
])
def test_default_pools(cidr, gateway, pools):
    assert ipam.default_pools(net(cidr), gateway) == pools


@pytest.mark.parametrize("cidr", ["10.0.0.0/24", "10.0.0.0/30", "10.0.0.0/31", "10.0.0.0/32",
                                  "2001:db8::/120", "2001:db8::/127", "2001:db8::/128"])
def test_default_pools_with_default_gateway_are_valid_pools(cidr):
    """What the server picks when nothing is given passes its own validation."""
    network = net(cidr)
    gateway = ipam.default_gateway(network)
    pools = ipam.default_pools(network, gateway)
    if pools:
        ipam.validate_pools(network, pools, gateway)
    bounds = ipam.pool_bounds(network, pools)
    if gateway:
        assert not ipam.in_pools(bounds, int(ipaddress.ip_address(gateway)))
    assert not (network.version == 4 and network.num_addresses > 2 and ipam.in_pools(
        bounds, int(network.broadcast_address)))


def test_pool_size_and_membership():
    network = net("10.0.0.0/24")
    bounds = ipam.pool_bounds(network, [("10.0.0.2", "10.0.0.254")])
    assert ipam.pool_size(bounds) == 253
    assert ipam.in_pools(bounds, int(ipaddress.ip_address("10.0.0.2")))
    assert ipam.in_pools(bounds, int(ipaddress.ip_address("10.0.0.254")))
    assert not ipam.in_pools(bounds, int(ipaddress.ip_address("10.0.0.1")))
    assert not ipam.in_pools(bounds, int(ipaddress.ip_address("10.0.0.255")))
    two = ipam.pool_bounds(network, [("10.0.0.10", "10.0.0.19"), ("10.0.0.30", "10.0.0.30")])
    assert ipam.pool_size(two) == 11
    assert ipam.pool_size([]) == 0


# -- validate_pools --------------------------------------------------------------------------


def test_validate_pools_accepts_good_pools():
    network = net("10.0.0.0/24")
    ipam.validate_pools(network, [("10.0.0.2", "10.0.0.100"), ("10.0.0.200", "10.0.0.254")],
                        "10.0.0.1")
    ipam.validate_pools(network, [("10.0.0.5", "10.0.0.5")], "10.0.0.1")  # one address
    ipam.validate_pools(network, [("10.0.0.1", "10.0.0.254")], None)  # no gateway
    ipam.validate_pools(network, [], "10.0.0.1")
    # Unsorted input is fine as long as nothing overlaps.
    ipam.validate_pools(network, [("10.0.0.200", "10.0.0.210"), ("10.0.0.2", "10.0.0.10")],
                        "10.0.0.1")
    ipam.validate_pools(net("2001:db8::/64"),
                        [("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")], "2001:db8::1")


@pytest.mark.parametrize("pools,error", [
    ([("10.0.0.10", "10.0.0.5")], exc.InvalidAllocationPool),  # start after end
    ([("not-an-ip", "10.0.0.5")], exc.InvalidAllocationPool),
    ([("10.0.0.2", "10.0.0.300")], exc.InvalidAllocationPool),
    ([("2001:db8::2", "2001:db8::5")], exc.InvalidAllocationPool),  # wrong IP version
    ([("10.0.0.2", "2001:db8::5")], exc.InvalidAllocationPool),
    ([("10.0.0.0", "10.0.0.10")], exc.OutOfBoundsAllocationPool),  # network address
    ([("10.0.0.250", "10.0.0.255")], exc.OutOfBoundsAllocationPool),  # broadcast
    ([("10.0.1.2", "10.0.1.10")], exc.OutOfBoundsAllocationPool),  # another subnet
    ([("9.255.255.250", "10.0.0.10")], exc.OutOfBoundsAllocationPool),
    ([("10.0.0.2", "10.0.0.50"), ("10.0.0.50", "10.0.0.60")], exc.OverlappingAllocationPools),
    ([("10.0.0.20", "10.0.0.30"), ("10.0.0.2", "10.0.0.100")], exc.OverlappingAllocationPools),
    ([("10.0.0.1", "10.0.0.10")], exc.GatewayConflictWithAllocationPools),
])
def test_validate_pools_errors(pools, error):
    with pytest.raises(error):
        ipam.validate_pools(net("10.0.0.0/24"), pools, "10.0.0.1")


def test_validate_pools_error_details():
    network = net("10.0.0.0/24")
    with pytest.raises(exc.OutOfBoundsAllocationPool) as info:
        ipam.validate_pools(network, [("10.0.0.250", "10.0.0.255")], None)
    assert info.value.status == 400
    assert "10.0.0.250-10.0.0.255" in info.value.message
    assert "10.0.0.0/24" in info.value.message
    with pytest.raises(exc.OverlappingAllocationPools) as info:
        ipam.validate_pools(network, [("10.0.0.2", "10.0.0.50"), ("10.0.0.40", "10.0.0.60")],
                            None)
    assert info.value.status == 409
    with pytest.raises(exc.GatewayConflictWithAllocationPools) as info:
        ipam.validate_pools(network, [("10.0.0.2", "10.0.0.50")], "10.0.0.20")
    assert info.value.status == 409
    assert "10.0.0.20" in info.value.message
    with pytest.raises(exc.InvalidAllocationPool) as info:
        ipam.validate_pools(network, [("10.0.0.9", "10.0.0.2")], None)
    assert info.value.status == 400


def test_validate_pools_v6_last_address_is_usable():
    network = net("2001:db8::/120")
    ipam.validate_pools(network, [("2001:db8::2", "2001:db8::ff")], "2001:db8::1")
    with pytest.raises(exc.OutOfBoundsAllocationPool):
        ipam.validate_pools(network, [("2001:db8::", "2001:db8::10")], None)
    with pytest.raises(exc.OutOfBoundsAllocationPool):
        ipam.validate_pools(network, [("2001:db8::2", "2001:db8::100")], None)


# -- EUI-64 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix,mac,address", [
    ("2001:db8::/64", "fa:16:3e:00:00:01", "2001:db8::f816:3eff:fe00:1"),
    ("2001:db8:1:2::/64", "fa:16:3e:12:34:56", "2001:db8:1:2:f816:3eff:fe12:3456"),
    # the universal/local bit is flipped, whichever way it was
    ("fe80::/64", "00:00:00:00:00:01", "fe80::200:ff:fe00:1"),
    ("fd00::/64", "02:00:00:00:00:00", "fd00::ff:fe00:0"),
    ("2001:db8::/64", "FA:16:3E:AB:CD:EF", "2001:db8::f816:3eff:feab:cdef"),
])
def test_eui64(prefix, mac, address):
    assert ipam.eui64(net(prefix), mac) == address


def test_eui64_is_in_the_prefix_and_distinct_per_mac():
    prefix = net("2001:db8:aa::/64")
    macs = [f"fa:16:3e:00:00:{i:02x}" for i in range(1, 50)]
    addresses = [ipam.eui64(prefix, m) for m in macs]
    assert len(set(addresses)) == len(addresses)
    assert all(ipaddress.ip_address(a) in prefix for a in addresses)


@pytest.mark.parametrize("subnet,slaac", [
    ({"ip_version": 6, "ipv6_address_mode": "slaac"}, True),
    ({"ip_version": 6, "ipv6_address_mode": "dhcpv6-stateless"}, True),
    ({"ip_version": 6, "ipv6_address_mode": "dhcpv6-stateful"}, False),
    ({"ip_version": 6, "ipv6_address_mode": None}, False),
    ({"ip_version": 6}, False),
    ({"ip_version": 4, "ipv6_address_mode": None}, False),
])
def test_is_slaac(subnet, slaac):
    assert ipam.is_slaac(subnet) is slaac


# -- candidates ------------------------------------------------------------------------------


def _ints(*addresses: str) -> list[int]:
    return [int(ipaddress.ip_address(a)) for a in addresses]


def test_candidates_lowest_first_skipping_used():
    network = net("10.0.0.0/24")
    bounds = ipam.pool_bounds(network, [("10.0.0.2", "10.0.0.6")])
    assert list(ipam.candidates(bounds, set())) == _ints(
        "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6")
    used = set(_ints("10.0.0.2", "10.0.0.4"))
    assert list(ipam.candidates(bounds, used)) == _ints("10.0.0.3", "10.0.0.5", "10.0.0.6")
    assert list(ipam.candidates(bounds, set(_ints(*[f"10.0.0.{i}" for i in range(2, 7)])))) == []


def test_candidates_follow_pool_order():
    """Pools are walked in the order given, each from its lowest address."""
    network = net("10.0.0.0/24")
    bounds = ipam.pool_bounds(network, [("10.0.0.200", "10.0.0.201"), ("10.0.0.10", "10.0.0.11")])
    assert list(ipam.candidates(bounds, set())) == _ints(
        "10.0.0.200", "10.0.0.201", "10.0.0.10", "10.0.0.11")
    assert list(ipam.candidates(bounds, set(_ints("10.0.0.200", "10.0.0.201")))) == _ints(
        "10.0.0.10", "10.0.0.11")


def test_candidates_are_lazy_on_huge_pools():
    network = net("2001:db8::/64")
    bounds = ipam.pool_bounds(network, ipam.default_pools(network, "2001:db8::1"))
    first = list(itertools.islice(ipam.candidates(bounds, set(_ints("2001:db8::2"))), 3))
    assert first == _ints("2001:db8::3", "2001:db8::4", "2001:db8::5")


def test_random_candidates_stay_in_the_pools():
    network = net("10.0.0.0/16")
    pools = [("10.0.1.0", "10.0.1.9"), ("10.0.5.0", "10.0.5.4")]
    bounds = ipam.pool_bounds(network, pools)
    picks = ipam.random_candidates(bounds, 200)
    assert len(picks) == ipam.pool_size(bounds)  # never more than the pools hold
    assert all(ipam.in_pools(bounds, p) for p in picks)
    assert len(ipam.random_candidates(bounds, 4)) == 4
    assert ipam.random_candidates([], 4) == []
