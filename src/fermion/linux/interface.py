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
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fermion.linux import netns as ns
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


class NetView:
    """What one agent pass knows of namespaces' links and addresses and of OVS's interfaces.

    Each namespace is read once (``ip -j addr show``) and OVS once (``Ovs.state``) instead
    of once per question: a pass over 100 routers asked ~15 ``ip link show`` per router.
    ``plug`` and ``set_addresses`` re-read what they change, so the view stays true for the
    rest of the pass. Thread-safe (the DHCP agent plugs networks in parallel); make a new
    one per pass.
    """

    def __init__(self, ovs: Ovs):
        self.ovs = ovs
        self._lock = threading.Lock()
        self._tables: dict[str | None, dict[str, dict]] = {}
        self._ids: dict[str, dict[str, str]] | None = None

    def link(self, dev: str, netns: str | None) -> dict | None:
        """``dev``'s ``ip -j addr`` entry in ``netns``, or None."""
        with self._lock:
            table = self._tables.get(netns)
            if table is None:
                exists = netns is None or ns.netns_exists(netns)
                table = self._tables[netns] = ns.addr_table(netns=netns) if exists else {}
            return table.get(dev)

    def link_names(self, netns: str | None) -> list[str]:
        self.link("", netns)  # read the namespace if not yet
        with self._lock:
            return sorted(self._tables.get(netns, {}))

    def reload(self, dev: str, netns: str | None) -> dict | None:
        """Read ``dev`` again (after changing it)."""
        info = ns.addr_info(dev, netns=netns)
        with self._lock:
            table = self._tables.setdefault(netns, {})
            if info is None:
                table.pop(dev, None)
            else:
                table[dev] = info
        return info

    def forget(self, netns: str | None) -> None:
        with self._lock:
            self._tables.pop(netns, None)

    def ovs_ids(self, name: str) -> dict[str, str] | None:
        """The OVS Interface's external_ids, or None when OVS has no such interface."""
        with self._lock:
            if self._ids is None:
                self._ids = {n: i["external_ids"] for n, i in self.ovs.state().interfaces.items()}
            return self._ids.get(name)

    def set_ovs_ids(self, name: str, ids: Mapping[str, str]) -> None:
        with self._lock:
            if self._ids is not None:
                self._ids[name] = dict(ids)


def plug(ovs: Ovs, spec: PlugSpec, view: NetView | None = None) -> list[str]:
    """Make `spec` true (create or fix); returns what was changed, [] if nothing.

    Pass the pass's :class:`NetView` so each namespace is read once."""
    view = view or NetView(ovs)
    changes: list[str] = []
    if not ns.netns_exists(spec.netns):
        ns.add_netns(spec.netns)
        view.forget(spec.netns)
        changes.append(f"netns {spec.netns}")
    dev = view.link(spec.device, spec.netns)
    peer = view.link(spec.ovs_name, spec.ovs_netns)
    if not (dev and peer):  # half a pair is useless: make it again
        ns.delete_link(spec.device, netns=spec.netns)
        ns.delete_link(spec.ovs_name, netns=spec.ovs_netns)
        ns.add_veth(spec.ovs_name, spec.device, netns=spec.ovs_netns, peer_netns=spec.netns)
        changes.append(f"veth {spec.ovs_name}<->{spec.device}")
        ns.disable_tx_offload(spec.device, netns=spec.netns)
        dev = view.reload(spec.device, spec.netns) or {}
        peer = view.reload(spec.ovs_name, spec.ovs_netns) or {}
    if dev.get("address", "").lower() != spec.mac.lower():
        ns.set_mac(spec.device, spec.mac, netns=spec.netns)
        changes.append(f"mac {spec.mac}")
    ends = ((spec.device, spec.netns, dev), (spec.ovs_name, spec.ovs_netns, peer))
    for name, where, info in ends:
        if spec.mtu and info.get("mtu") != spec.mtu:
            ns.set_mtu(name, spec.mtu, netns=where)
            changes.append(f"mtu {name} {spec.mtu}")
        if "UP" not in info.get("flags", []):
            ns.set_up(name, netns=where)
            changes.append(f"up {name}")
    if view.ovs_ids(spec.ovs_name) != spec.external_ids():
        ovs.add_port(spec.bridge, spec.ovs_name, external_ids=spec.external_ids())
        view.set_ovs_ids(spec.ovs_name, spec.external_ids())
        changes.append(f"ovs port {spec.ovs_name} on {spec.bridge}")
    if changes:
        for name, where, _ in ends:
            view.reload(name, where)
        LOG.info("plugged %s in %s: %s", spec.device, spec.netns, ", ".join(changes))
    return changes


def unplug(ovs: Ovs, device: str, netns: str, *, ovs_device: str | None = None,
           ovs_netns: str | None = None) -> None:
    """Remove the OVS port and the veth pair; no-op for what is already gone."""
    name = ovs_device or device
    ovs.del_port(name)
    ns.delete_link(name, netns=ovs_netns)
    ns.delete_link(device, netns=netns)


def set_addresses(device: str, cidrs: Iterable[str], *, netns: str,
                  view: NetView | None = None) -> list[str]:
    """Make the device's addresses exactly `cidrs` (IPv6 link-local ones are left alone);
    returns the changes made."""
    want = {_normal(c) for c in cidrs}
    info = view.link(device, netns) if view else None
    have = {_normal(c) for c in (ns.cidrs_of(info) if info is not None
                                 else ns.list_addresses(device, netns=netns))}
    changes = []
    for cidr in sorted(have - want):
        if ipaddress.ip_interface(cidr).ip.is_link_local and ":" in cidr:
            continue
        ns.delete_address(device, cidr, netns=netns)
        changes.append(f"-{cidr}")
    for cidr in sorted(want - have):
        ns.add_address(device, cidr, netns=netns)
        changes.append(f"+{cidr}")
    if changes and view is not None:
        view.reload(device, netns)
    return changes


def _normal(cidr: str) -> str:
    return str(ipaddress.ip_interface(cidr))
