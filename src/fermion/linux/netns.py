"""Network namespaces and links, via iproute2 (`ip`) and `ethtool`.

Every verb takes `netns=None` meaning "the namespace this process is in". Verbs that create
tolerate what already exists; verbs that delete tolerate what is already gone.

iproute2 quirks honoured here: a veth is created from the first end's namespace with the
peer placed directly (`ip -n NS link add X type veth peer name Y netns NS2`), since
`ip link add X netns NS type veth …` is rejected; a link named `br` cannot be created (it
parses as `broadcast`), so `add_bridge` refuses it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence

from fermion.linux.cmd import CommandError, netns_argv, run

NETNS_DIR = "/run/netns"
IFNAMSIZ = 15  # longest usable interface name


def _ip(netns: str | None, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ip"] + (["-n", netns] if netns else []) + list(args)
    return run(argv, check=check)


def _check_ifname(name: str) -> None:
    if not name or len(name) > IFNAMSIZ or "/" in name or " " in name:
        raise ValueError(f"invalid interface name {name!r} (1-{IFNAMSIZ} chars, no '/' or ' ')")


# --- namespaces ------------------------------------------------------------------------


def netns_exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, name))


def list_netns() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def add_netns(name: str, *, loopback_up: bool = True) -> None:
    """Create namespace `name` (no-op if it exists) and bring its loopback up."""
    if not netns_exists(name):
        run(["ip", "netns", "add", name])
    if loopback_up:
        set_up("lo", netns=name)


def delete_netns(name: str) -> None:
    """Delete namespace `name` and every device in it (no-op if it is gone)."""
    if netns_exists(name):
        run(["ip", "netns", "delete", name])


def exec_in(netns: str | None, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command inside `netns` (`ip netns exec`); see `fermion.linux.cmd.run`."""
    return run(argv, netns=netns, **kwargs)


def popen_in(netns: str | None, argv: Sequence[str], **kwargs) -> subprocess.Popen:
    """Start a long-running command inside `netns`; the caller owns (and must stop) it."""
    return subprocess.Popen(netns_argv(netns, argv), **kwargs)


# --- links -----------------------------------------------------------------------------


def link_exists(dev: str, *, netns: str | None = None) -> bool:
    return _ip(netns, "link", "show", "dev", dev, check=False).returncode == 0


def link_info(dev: str, *, netns: str | None = None) -> dict:
    """`ip -j link show dev DEV` as a dict (raises CommandError if absent)."""
    return json.loads(_ip(netns, "-j", "link", "show", "dev", dev).stdout)[0]


def addr_table(*, netns: str | None = None) -> dict[str, dict]:
    """Every link of `netns` with its addresses: `ip -j addr show` by interface name.

    One command answers what `link_info` and `list_addresses` would ask per device."""
    return {link["ifname"]: link for link in json.loads(_ip(netns, "-j", "addr", "show").stdout)}


def addr_info(dev: str, *, netns: str | None = None) -> dict | None:
    """`ip -j addr show dev DEV` (flags, mtu, address, addr_info), or None if absent."""
    proc = _ip(netns, "-j", "addr", "show", "dev", dev, check=False)
    if proc.returncode != 0:
        return None
    links = json.loads(proc.stdout)
    return links[0] if links else None


def cidrs_of(info: dict) -> list[str]:
    """The CIDRs in an `ip -j addr` entry, e.g. ['10.0.0.5/24']."""
    return [f"{a['local']}/{a['prefixlen']}" for a in info.get("addr_info", [])]


def list_links(*, netns: str | None = None) -> list[str]:
    return [link["ifname"] for link in json.loads(_ip(netns, "-j", "link", "show").stdout)]


def add_veth(
    name: str, peer: str, *, netns: str | None = None, peer_netns: str | None = None
) -> None:
    """A veth pair: `name` in `netns`, `peer` in `peer_netns` (no-op if `name` exists)."""
    _check_ifname(name)
    _check_ifname(peer)
    if link_exists(name, netns=netns):
        return
    args = ["link", "add", name, "type", "veth", "peer", "name", peer]
    if peer_netns is not None and peer_netns != netns:
        args += ["netns", peer_netns]
    _ip(netns, *args)


def add_bridge(name: str, *, netns: str | None = None) -> None:
    """A Linux bridge (no-op if it exists)."""
    _check_ifname(name)
    if name == "br":
        raise ValueError("a link named 'br' cannot be created with iproute2 (parsed as broadcast)")
    if not link_exists(name, netns=netns):
        _ip(netns, "link", "add", name, "type", "bridge")


def set_master(dev: str, master: str, *, netns: str | None = None) -> None:
    _ip(netns, "link", "set", "dev", dev, "master", master)


def delete_link(dev: str, *, netns: str | None = None) -> None:
    """Delete `dev` (and its veth peer); no-op if it is gone or its namespace is gone.

    A veth can vanish between the check and the delete: when the namespace of its peer is
    deleted, the kernel destroys both ends a moment later (asynchronously). That is gone,
    not a failure."""
    if netns is not None and not netns_exists(netns):
        return
    if link_exists(dev, netns=netns):
        try:
            _ip(netns, "link", "delete", "dev", dev)
        except CommandError:
            if link_exists(dev, netns=netns):
                raise


def set_up(dev: str, *, netns: str | None = None) -> None:
    _ip(netns, "link", "set", "dev", dev, "up")


def set_down(dev: str, *, netns: str | None = None) -> None:
    _ip(netns, "link", "set", "dev", dev, "down")


def set_mtu(dev: str, mtu: int, *, netns: str | None = None) -> None:
    _ip(netns, "link", "set", "dev", dev, "mtu", str(mtu))


def set_mac(dev: str, mac: str, *, netns: str | None = None) -> None:
    _ip(netns, "link", "set", "dev", dev, "address", mac)


def move_to_netns(dev: str, target: str, *, netns: str | None = None) -> None:
    _ip(netns, "link", "set", "dev", dev, "netns", target)


# --- addresses and routes --------------------------------------------------------------


def add_address(dev: str, cidr: str, *, netns: str | None = None) -> None:
    """Put `cidr` (e.g. 10.0.0.5/24) on `dev`; no-op if it is already there."""
    _ip(netns, "addr", "replace", cidr, "dev", dev)


def delete_address(dev: str, cidr: str, *, netns: str | None = None) -> None:
    proc = _ip(netns, "addr", "del", cidr, "dev", dev, check=False)
    if proc.returncode != 0 and "Cannot assign" not in proc.stderr:
        raise CommandError(proc.args, proc.returncode, proc.stdout, proc.stderr)


def list_addresses(dev: str, *, netns: str | None = None) -> list[str]:
    """CIDRs on `dev`, e.g. ['10.0.0.5/24']."""
    info = json.loads(_ip(netns, "-j", "addr", "show", "dev", dev).stdout)
    return [cidr for link in info for cidr in cidrs_of(link)]


def add_route(dest: str, *, via: str | None = None, dev: str | None = None,
              netns: str | None = None) -> None:
    """Add or replace a route to `dest` ('default' or a CIDR)."""
    args = ["route", "replace", dest]
    if via:
        args += ["via", via]
    if dev:
        args += ["dev", dev]
    _ip(netns, *args)


# --- offloads --------------------------------------------------------------------------


def disable_tx_offload(dev: str, *, netns: str | None = None) -> None:
    """`ethtool -K DEV tx off`: needed on a veth end whose peer is a userspace OVS port,
    or TCP/UDP leave with bad checksums (ping still works, TCP and DHCP do not)."""
    run(["ethtool", "-K", dev, "tx", "off"], netns=netns)
