"""Converging a host's router namespaces to the L3 model: desired state -> diff -> apply.

For each :class:`~fermion.agent.l3_model.Router`:

1. namespace ``qrouter-<id>`` (made if missing) with IPv4 and IPv6 forwarding on;
2. its ``qr-``/``qg-`` devices plugged into br-int (``fermion.linux.interface.plug``: veth,
   OVS end in the OVS host's namespace, iface-id/attached-mac external_ids), stale ones of
   ours unplugged;
3. addresses of the internal ports;
4. iptables (``fermion.agent.l3_rules`` through ``fermion.linux.iptables``, one atomic
   restore, nothing written when nothing differs) — before floating IP addresses appear and
   after they are gone, as Neutron orders it;
5. the gateway's addresses: its fixed IPs plus one /32 per floating IP. A /32 that appears
   is announced with gratuitous ARP (``arping -U``, in the background); one that goes has
   its conntrack entries deleted, so no established connection outlives the association.
   The addresses on ``qg-`` are the record of which floating IPs are set up, so this also
   holds across an agent restart;
6. routes with a next hop: the default route via the external subnet's gateway and the
   router's extra routes, diffed against ``ip route``;
7. the metadata proxy (haproxy on ``metadata_port``) when the router has interfaces.

Namespaces ``<prefix>qrouter-*`` whose router is not in the model are removed with
everything in them (haproxy stopped by its pid file, OVS ports deleted). Every step reads
before it writes, so a pass over a correct host changes nothing.

Each router is converged (and each stale one removed) on its own: one that fails is logged
with its id and the reason, recorded in ``L3Applier.failures`` (``fermion.agent.retry``:
retried after a backoff, or at once when the router changes) and the pass goes on with the
others. The agent reports the floating IPs of a failing router ``ERROR``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from fermion.agent import iptables_rules, l3_rules
from fermion.agent.l3_model import EXTERNAL_PREFIX, INTERNAL_PREFIX, NAMESPACE_PREFIX, Router
from fermion.agent.loop import EXPECTED
from fermion.agent.metadata_apply import ensure_proxy, stop_proxy
from fermion.agent.metadata_proxy import ROUTER_HEADER, ProxyConfig
from fermion.agent.retry import Failures
from fermion.linux import conntrack, interface
from fermion.linux import netns as ns
from fermion.linux.cmd import run
from fermion.linux.iptables import Iptables
from fermion.linux.ovs import Ovs

LOG = logging.getLogger(__name__)

FORWARDING = {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"}


@dataclass
class RouterResult:
    """What one pass changed for one router ([] everywhere: nothing was touched)."""

    changes: list[str] = field(default_factory=list)
    fips_added: list[str] = field(default_factory=list)
    fips_removed: list[str] = field(default_factory=list)
    iptables_changed: list[str] = field(default_factory=list)
    metadata_proxy: str | None = None  # adopted / started / restarted / None


@dataclass
class L3Result:
    routers: dict[str, RouterResult] = field(default_factory=dict)  # converged this pass
    removed: list[str] = field(default_factory=list)  # router ids whose namespace went
    errors: dict[str, str] = field(default_factory=dict)  # failing router id -> reason

    def summary(self) -> dict:
        return {
            "routers": sorted(self.routers),
            "removed": sorted(self.removed),
            "errors": dict(sorted(self.errors.items())),
            "changes": {rid: r.changes for rid, r in sorted(self.routers.items()) if r.changes},
            "iptables_changed": {rid: r.iptables_changed
                                 for rid, r in sorted(self.routers.items())
                                 if r.iptables_changed},
            "fips_added": sorted(f for r in self.routers.values() for f in r.fips_added),
            "fips_removed": sorted(f for r in self.routers.values() for f in r.fips_removed),
            "metadata_proxy": {rid: r.metadata_proxy for rid, r in sorted(self.routers.items())
                               if r.metadata_proxy},
        }

    @property
    def changed(self) -> bool:
        return bool(self.removed or any(
            r.changes or r.iptables_changed or r.fips_added or r.fips_removed
            or r.metadata_proxy in ("started", "restarted") for r in self.routers.values()))


def apply_iptables(iptables: Iptables, netns: str | None,
                   desired: iptables_rules.RuleSet) -> iptables_rules.Plan:
    """Make ``netns`` hold exactly ``desired`` in the chains it owns: one ``iptables-save``,
    the pure diff, and one ``iptables-restore --noflush`` only when something differs (a
    COMMIT per table: each table changes atomically). Returns what changed."""
    plan, text = iptables_rules.diff(desired, iptables_rules.parse_save(iptables.save(netns)))
    if text:
        LOG.debug("iptables-restore in %s:\n%s", netns, text)
        iptables.restore(netns, text)
    return plan


class L3Applier:
    """Applies router models on one host. `ovs_netns` is the namespace ovs-vswitchd runs in
    (where the OVS ends of the veths go; None: ours); `namespace_prefix` is put before every
    ``qrouter-`` namespace name (simulated hosts share one kernel)."""

    def __init__(self, ovs: Ovs, iptables: Iptables, *, state_path: str | Path,
                 ovs_netns: str | None = None, namespace_prefix: str = "",
                 integration_bridge: str = "br-int", metadata_port: int = 9697,
                 metadata_socket: str = "/var/lib/neutron/metadata_proxy",
                 send_arp_count: int = 3):
        self.ovs = ovs
        self.iptables = iptables
        self.state_path = Path(state_path)
        self.ovs_netns = ovs_netns
        self.namespace_prefix = namespace_prefix
        self.bridge = integration_bridge
        self.metadata_port = metadata_port
        self.metadata_socket = metadata_socket
        self.send_arp_count = send_arp_count
        self._arpings: list[subprocess.Popen] = []
        self.failures = Failures("router", expected=EXPECTED)
        self.removals = Failures("removal of namespace", expected=EXPECTED)

    # ------------------------------------------------------------------ the whole host
    def reconcile(self, routers: list[Router]) -> L3Result:
        """Converge every router, then remove stale ones; each on its own (a failure is
        recorded in :attr:`failures` and the others carry on)."""
        self._reap_arpings()
        result = L3Result()
        wanted = {r.namespace: r for r in routers}
        view = interface.NetView(self.ovs)  # each namespace and OVS read once this pass
        self.failures.keep_only(r.id for r in routers)
        for router in routers:
            if not self.failures.due(router.id, router):
                result.errors[router.id] = self.failures.reason(router.id) or "failed"
                continue
            try:
                result.routers[router.id] = self.ensure(router, view)
            except Exception as exc:  # noqa: BLE001 - one router must not stop the others
                result.errors[router.id] = self.failures.failed(router.id, exc, router).reason
                view.forget(router.namespace)
                continue
            self.failures.succeeded(router.id)
        prefix = self.namespace_prefix + NAMESPACE_PREFIX
        stale = [n for n in ns.list_netns() if n.startswith(prefix) and n not in wanted]
        self.removals.keep_only(stale)
        for name in stale:
            if not self.removals.due(name):
                continue
            try:
                self.remove(name)
            except Exception as exc:  # noqa: BLE001 - nor one stale router
                self.removals.failed(name, exc)
                continue
            self.removals.succeeded(name)
            result.removed.append(name[len(prefix):])
        try:
            self._remove_orphan_ovs_ports({p.device for r in routers for p in r.ports})
        except EXPECTED as exc:  # retried next pass; routers are done
            LOG.warning("orphan OVS port sweep failed: %s", exc)
        return result

    # ------------------------------------------------------------------ one router
    def ensure(self, router: Router, view: interface.NetView | None = None) -> RouterResult:
        res = RouterResult()
        view = view or interface.NetView(self.ovs)
        netns = router.namespace
        new = not ns.netns_exists(netns)
        if new:
            ns.add_netns(netns)
            view.forget(netns)
            res.changes.append(f"netns {netns}")
        res.changes += self._ensure_forwarding(netns)

        wanted = {p.device for p in router.ports}
        for dev in self._our_devices(netns, view):
            if dev not in wanted:
                interface.unplug(self.ovs, dev, netns, ovs_netns=self.ovs_netns)
                res.changes.append(f"unplugged {dev}")
        for port in router.ports:
            res.changes += interface.plug(self.ovs, interface.PlugSpec(
                device=port.device, netns=netns, bridge=self.bridge, port_id=port.id,
                mac=port.mac, mtu=port.mtu, ovs_netns=self.ovs_netns), view)
        for port in router.interfaces:
            res.changes += interface.set_addresses(port.device, port.cidrs, netns=netns,
                                                   view=view)

        plan = apply_iptables(self.iptables, netns, l3_rules.router_rules(
            router, metadata_port=self.metadata_port))
        res.iptables_changed = [f"{t}:{c}" for t, c in plan.rewritten + plan.jumps_fixed
                                + plan.removed]
        if plan.rewritten and not new:  # a floating IP may lead elsewhere now: old
            conntrack.flush_stale_dnat(netns, {  # connections to its old target go
                f.floating_ip: f.fixed_ip for f in router.floating_ips})

        gw = router.gateway
        if gw is not None:
            fips = [f"{f.floating_ip}/32" for f in router.floating_ips]
            changed = interface.set_addresses(gw.port.device, [*gw.port.cidrs, *fips],
                                              netns=netns, view=view)
            res.changes += changed
            for change in changed:
                address = change[1:].split("/")[0]
                if change.startswith("+"):
                    self._announce(netns, gw.port.device, address)
                    if change.endswith("/32"):
                        res.fips_added.append(address)
                elif change.endswith("/32"):
                    conntrack.flush_address(netns, address)
                    res.fips_removed.append(address)
        res.changes += self._ensure_routes(router)

        if router.metadata_proxy:
            _, res.metadata_proxy = ensure_proxy(self._proxy_config(router.id), netns)
        elif stop_proxy(self._proxy_config(router.id), netns):
            res.metadata_proxy = "stopped"
        if res.changes or res.iptables_changed:
            LOG.info("router %s: %s%s", router.id, ", ".join(res.changes),
                     f" iptables {res.iptables_changed}" if res.iptables_changed else "")
        return res

    def remove(self, netns: str) -> None:
        """Remove a router namespace and everything of ours in it and on br-int."""
        router_id = netns[len(self.namespace_prefix + NAMESPACE_PREFIX):]
        stop_proxy(self._proxy_config(router_id), netns, remove_config=True)
        for dev in self._our_devices(netns):
            interface.unplug(self.ovs, dev, netns, ovs_netns=self.ovs_netns)
        ns.delete_netns(netns)
        LOG.info("router %s removed (namespace %s)", router_id, netns)

    # ------------------------------------------------------------------ pieces
    def _ensure_forwarding(self, netns: str) -> list[str]:
        out = run(["sysctl", "-n", *FORWARDING], netns=netns).stdout.split()
        if out == list(FORWARDING.values()):
            return []
        run(["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in FORWARDING.items())], netns=netns)
        return ["forwarding on"]

    @staticmethod
    def _our_devices(netns: str, view: interface.NetView | None = None) -> list[str]:
        if not ns.netns_exists(netns):
            return []
        links = ns.list_links(netns=netns) if view is None else view.link_names(netns)
        return [dev for dev in links if dev.startswith((INTERNAL_PREFIX, EXTERNAL_PREFIX))]

    def _ensure_routes(self, router: Router) -> list[str]:
        """Routes with a next hop (default + extra routes), IPv4, made exactly as wanted."""
        want: set[tuple[str, str]] = set()
        gw = router.gateway
        if gw is not None:
            for ip in gw.gateway_ips:
                if ipaddress.ip_address(ip).version == 4:
                    want.add(("default", ip))
                    break
        for route in router.routes:
            if ipaddress.ip_network(route.destination, strict=False).version == 4:
                dest = str(ipaddress.ip_network(route.destination, strict=False))
                want.add(("default" if dest == "0.0.0.0/0" else dest, route.nexthop))
        routes = json.loads(run(["ip", "-n", router.namespace, "-4", "-j", "route", "show"]
                                ).stdout or "[]")
        have = {(_route_dst(r), r["gateway"]) for r in routes if r.get("gateway")}
        changes = []
        for dest, via in sorted(have - want):
            run(["ip", "-n", router.namespace, "route", "del", dest, "via", via], check=False)
            changes.append(f"-route {dest} via {via}")
        for dest, via in sorted(want - have):
            ns.add_route(dest, via=via, netns=router.namespace)
            changes.append(f"+route {dest} via {via}")
        return changes

    def _announce(self, netns: str, dev: str, address: str) -> None:
        """Gratuitous ARP for a new address on the gateway (in the background)."""
        if self.send_arp_count <= 0 or ipaddress.ip_address(address).version != 4:
            return
        try:
            self._arpings.append(ns.popen_in(
                netns, ["arping", "-U", "-I", dev, "-c", str(self.send_arp_count), address],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL))
        except OSError as exc:  # no arping: neighbours learn the address from traffic
            LOG.warning("gratuitous ARP for %s not sent: %s", address, exc)

    def _reap_arpings(self) -> None:
        self._arpings = [p for p in self._arpings if p.poll() is None]

    def _remove_orphan_ovs_ports(self, wanted: set[str]) -> None:
        """qr-/qg- ports on br-int with no router of ours (their namespace went away)."""
        state = self.ovs.state()
        if self.bridge not in state.bridges:
            return
        for port in state.ports_of(self.bridge):
            if port.startswith((INTERNAL_PREFIX, EXTERNAL_PREFIX)) and port not in wanted:
                self.ovs.del_port(port)
                ns.delete_link(port, netns=self.ovs_netns)
                LOG.info("removed orphan OVS port %s", port)

    def _pidfile(self, router_id: str) -> str:
        return str(self.state_path / "ns-metadata-proxy" / f"{router_id}.pid")

    def _proxy_config(self, router_id: str) -> ProxyConfig:
        return ProxyConfig(router_id, ROUTER_HEADER, self.metadata_socket,
                           self._pidfile(router_id), "0.0.0.0", self.metadata_port)


def _route_dst(route: dict) -> str:
    dst = route.get("dst", "default")
    if dst != "default" and "/" not in dst:
        dst += "/32"
    return dst
