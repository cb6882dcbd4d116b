"""Plugging a namespace's device into an OVS bridge, as Neutron's OVS interface driver does.

Used by the DHCP agent (``tap<port_id[:11]>`` in ``qdhcp-<network>``) and the L3 agent
(``qr-``/``qg-`` devices in ``qrouter-<router>``). The device is always a veth pair (Neutron's
``ovs_use_veth`` mode), because ovs-vswitchd may run in another namespace than the agent (a
simulated host) and an OVS internal port moved into a namespace cannot get its MTU set by OVS:

    <netns>: <device>  ══ veth ══  <ovs_device> (in <ovs_netns>) ── port on <bridge>

Naming: by default both ends carry the same name (``tapXXXXXXXXXXX``); they live in
different namespaces, so the OVS port on br-int is named exactly as Neutron names it and so
is the device inside the namespace. Pass ``ovs_device`` to name the OVS end differently.

The OVS Interface gets ``external_ids`` ``iface-id`` (the Neutron port id), ``attached-mac``
and ``iface-status=active`` (plus any ``extra_ids``), which is what the L2 agent matches on.
The namespace end gets the port's MAC, the MTU and ``tx`` checksum offload off (userspace OVS
delivers broken TCP/UDP checksums from a veth otherwise; see netns.disable_tx_offload).

Every verb is idempotent: ``plug`` reads what is there, fixes what differs (MAC, MTU,
external_ids, link state, addresses) and returns the list of changes it made (empty when
nothing differed), so a restarted agent re-plugs without disturbing traffic.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fermion.linux import netns as ns
from fermion.linux.cmd import CommandError
from fermion.linux.ovs import Ovs

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlugSpec:
    """What one plugged device should look like."""

    device: str                    # name inside `netns`
    netns: str                     # namespace of the device (created if missing)
    bridge: str                    # OVS bridge, e.g. br-int
    port_id: str                   # Neutron port id -> external_ids:iface-id
    mac: str
    mtu: int | None = None
    ovs_device: str | None = None  # OVS end's name (default: same as `device`)
    ovs_netns: str | None = None   # namespace of the OVS end (where ovs-vswitchd runs)
    extra_ids: Mapping[str, str] = field(default_factory=dict)

    @property
    def ovs_name(self) -> str:
        return self.ovs_device or self.device

    def external_ids(self) -> dict[str, str]:
        return {"iface-id": self.port_id, "attached-mac": self.mac,
                "iface-status": "active", **self.extra_ids}


def plug(ovs: Ovs, spec: PlugSpec) -> list[str]:
    """Make `spec` true (create or fix); returns what was changed, [] if nothing."""
    changes: list[str] = []
    if not ns.netns_exists(spec.netns):
        ns.add_netns(spec.netns)
        changes.append(f"netns {spec.netns}")
    have_dev = ns.link_exists(spec.device, netns=spec.netns)
    have_peer = ns.link_exists(spec.ovs_name, netns=spec.ovs_netns)
    if not (have_dev and have_peer):  # half a pair is useless: make it again
        ns.delete_link(spec.device, netns=spec.netns)
        ns.delete_link(spec.ovs_name, netns=spec.ovs_netns)
        ns.add_veth(spec.ovs_name, spec.device, netns=spec.ovs_netns, peer_netns=spec.netns)
        changes.append(f"veth {spec.ovs_name}<->{spec.device}")
        ns.disable_tx_offload(spec.device, netns=spec.netns)
    info = ns.link_info(spec.device, netns=spec.netns)
    if info.get("address", "").lower() != spec.mac.lower():
        ns.set_mac(spec.device, spec.mac, netns=spec.netns)
        changes.append(f"mac {spec.mac}")
    if spec.mtu:
        for dev, where in ((spec.device, spec.netns), (spec.ovs_name, spec.ovs_netns)):
            if ns.link_info(dev, netns=where).get("mtu") != spec.mtu:
                ns.set_mtu(dev, spec.mtu, netns=where)
                changes.append(f"mtu {dev} {spec.mtu}")
    for dev, where in ((spec.device, spec.netns), (spec.ovs_name, spec.ovs_netns)):
        if "UP" not in ns.link_info(dev, netns=where).get("flags", []):
            ns.set_up(dev, netns=where)
            changes.append(f"up {dev}")
    if _ovs_ids(ovs, spec.ovs_name) != spec.external_ids():
        ovs.add_port(spec.bridge, spec.ovs_name, external_ids=spec.external_ids())
        changes.append(f"ovs port {spec.ovs_name} on {spec.bridge}")
    if changes:
        LOG.info("plugged %s in %s: %s", spec.device, spec.netns, ", ".join(changes))
    return changes


def _ovs_ids(ovs: Ovs, port: str) -> dict[str, str] | None:
    """The OVS Interface's external_ids, or None when OVS has no such port."""
    try:
        return ovs.external_ids(port)
    except CommandError:
        return None


def unplug(ovs: Ovs, device: str, netns: str, *, ovs_device: str | None = None,
           ovs_netns: str | None = None) -> None:
    """Remove the OVS port and the veth pair; no-op for what is already gone."""
    name = ovs_device or device
    ovs.del_port(name)
    ns.delete_link(name, netns=ovs_netns)
    ns.delete_link(device, netns=netns)


def set_addresses(device: str, cidrs: Iterable[str], *, netns: str) -> list[str]:
    """Make the device's addresses exactly `cidrs` (IPv6 link-local ones are left alone);
    returns the changes made."""
    want = {_normal(c) for c in cidrs}
    have = {_normal(c) for c in ns.list_addresses(device, netns=netns)}
    changes = []
    for cidr in sorted(have - want):
        if ipaddress.ip_interface(cidr).ip.is_link_local and ":" in cidr:
            continue
        ns.delete_address(device, cidr, netns=netns)
        changes.append(f"-{cidr}")
    for cidr in sorted(want - have):
        ns.add_address(device, cidr, netns=netns)
        changes.append(f"+{cidr}")
    return changes


def _normal(cidr: str) -> str:
    return str(ipaddress.ip_interface(cidr))
