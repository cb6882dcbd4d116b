"""IP address management arithmetic: gateways, allocation pools, EUI-64, picking a free address.

Pure functions over ``ipaddress`` objects; the database side (what is taken, locking) lives
in ``plugin/ports.py``. Pools are lists of ``(first, last)`` address strings, as the API shows
them (``[{"start": ..., "end": ...}]``).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Iterator

from fermion import exceptions as exc

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def network(cidr: str) -> Network:
    return ipaddress.ip_network(cidr, strict=False)


def default_gateway(net: Network) -> str | None:
    """The first host address, as Neutron picks it; None for networks too small to have one.

    (IPv4 /31 and /32; IPv6 /128, whose "first host address" would lie outside it.)
    """
    if net.num_addresses == 1 or (net.num_addresses <= 2 and net.version == 4):
        return None
    return str(net.network_address + 1)


def default_pools(net: Network, gateway_ip: str | None) -> list[tuple[str, str]]:
    """Whole subnet minus network address, v4 broadcast and the gateway (Neutron's rules)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if first == last:
        return [(str(net.network_address), str(net.network_address))]
    low, high = first + 1, last - (1 if net.version == 4 else 0)
    if low > high:
        return []
    ranges = [(low, high)]
    if gateway_ip:
        gw = int(ipaddress.ip_address(gateway_ip))
        ranges = _subtract(ranges, gw)
    return [(_addr(net, a), _addr(net, b)) for a, b in ranges]


def _subtract(ranges: list[tuple[int, int]], value: int) -> list[tuple[int, int]]:
    out = []
    for low, high in ranges:
        if low <= value <= high:
            if low < value:
                out.append((low, value - 1))
            if value < high:
                out.append((value + 1, high))
        else:
            out.append((low, high))
    return out


def _addr(net: Network, value: int) -> str:
    return str(ipaddress.ip_address(value) if net.version == 4 else ipaddress.IPv6Address(value))


def pool_bounds(net: Network, pools: Iterable[tuple[str, str]]) -> list[tuple[int, int]]:
    return [(int(ipaddress.ip_address(a)), int(ipaddress.ip_address(b))) for a, b in pools]


def validate_pools(net: Network, pools: list[tuple[str, str]], gateway_ip: str | None) -> None:
    """Each pool well formed and inside the subnet, no two overlapping, gateway outside them."""
    first, last = int(net.network_address), int(net.broadcast_address)
    usable_low = first + 1 if net.num_addresses > 1 else first
    usable_high = last - 1 if net.version == 4 and net.num_addresses > 1 else last
    bounds = []
    for start, end in pools:
        pool_text = f"{start}-{end}"
        try:
            low_addr, high_addr = ipaddress.ip_address(start), ipaddress.ip_address(end)
        except ValueError as error:
            raise exc.InvalidAllocationPool(pool=pool_text) from error
        if low_addr.version != net.version or high_addr.version != net.version:
            raise exc.InvalidAllocationPool(pool=pool_text)
        low, high = int(low_addr), int(high_addr)
        if low > high:
            raise exc.InvalidAllocationPool(pool=pool_text)
        if low < usable_low or high > usable_high:
            raise exc.OutOfBoundsAllocationPool(pool=pool_text, subnet_cidr=str(net))
        bounds.append((low, high, pool_text))
    bounds.sort()
    for (_, high_a, text_a), (low_b, _, text_b) in zip(bounds, bounds[1:], strict=False):
        if low_b <= high_a:
            raise exc.OverlappingAllocationPools(pool_1=text_a, pool_2=text_b, subnet_cidr=str(net))
    if gateway_ip:
        gw = int(ipaddress.ip_address(gateway_ip))
        for low, high, text in bounds:
            if low <= gw <= high:
                raise exc.GatewayConflictWithAllocationPools(ip_address=gateway_ip, pool=text)


def pool_size(bounds: list[tuple[int, int]]) -> int:
    return sum(high - low + 1 for low, high in bounds)


def in_pools(bounds: list[tuple[int, int]], value: int) -> bool:
    return any(low <= value <= high for low, high in bounds)


def candidates(bounds: list[tuple[int, int]], used: set[int]) -> Iterator[int]:
    """Free addresses in pool order (lowest first): predictable, like Neutron's old IPAM."""
    for low, high in bounds:
        value = low
        while value <= high:
            if value not in used:
                yield value
            value += 1


def random_candidates(bounds: list[tuple[int, int]], count: int) -> list[int]:
    """Random addresses from the pools, for large subnets where scanning would be slow."""
    total = pool_size(bounds)
    picks = []
    for _ in range(min(count, total)):
        offset = random.randrange(total)
        for low, high in bounds:
            size = high - low + 1
            if offset < size:
                picks.append(low + offset)
                break
            offset -= size
    return picks


def eui64(prefix: Network, mac: str) -> str:
    """The SLAAC address a host with this MAC forms on a /64 (RFC 4291 modified EUI-64)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    interface_id = octets[:3] + [0xFF, 0xFE] + octets[3:]
    value = int.from_bytes(bytes(interface_id), "big")
    return str(ipaddress.IPv6Address(int(prefix.network_address) | value))


def is_slaac(subnet: dict) -> bool:
    """Addresses on this subnet come from the MAC, not from the pool."""
    return subnet["ip_version"] == 6 and subnet.get("ipv6_address_mode") in (
        "slaac", "dhcpv6-stateless")
