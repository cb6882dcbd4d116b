"""The DHCP agent's applier: makes the host serve exactly the desired networks.

Per network (``dhcp_model.NetworkDhcp``), in this order, each step idempotent:

1. the DHCP port, created or updated through the API (``network:dhcp``, bound to this host,
   an address on every DHCP-enabled subnet);
2. namespace ``<prefix>qdhcp-<network>`` with ``tap<port[:11]>`` plugged into br-int
   (``fermion.linux.interface``), the port's addresses and, when it serves metadata,
   169.254.169.254/32;
3. dnsmasq's files (replaced only when their text changes) and dnsmasq itself: adopted when
   it runs with the same command line, sent SIGHUP when only the files changed, restarted
   only when the command line changed;
4. the metadata haproxy, started, adopted or stopped.

Networks no longer served lose their processes (stopped by verified pid), namespace, files
and DHCP port. What was applied is remembered, so a pass after a change feed wake-up only
touches the networks whose desired state differs; `check_daemons` is the cheap pass that
restarts a crashed dnsmasq or haproxy.

Each network is applied (and each stale one removed) on its own: one that fails is logged
with its id and the reason, recorded in ``DhcpApplier.failures`` (``fermion.agent.retry``:
retried after a backoff, or at once when its desired state changes) and the others carry on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fermion.agent import dnsmasq
from fermion.agent.dhcp_model import (
    DHCP_OWNER,
    DhcpConf,
    NetworkDhcp,
    dhcp_device_id,
    with_dhcp_port,
)
from fermion.agent.loop import EXPECTED
from fermion.agent.metadata_apply import ensure_proxy, proxy_daemon
from fermion.agent.metadata_proxy import METADATA_IP, ProxyConfig
from fermion.agent.retry import Failures
from fermion.linux import files, interface
from fermion.linux import netns as ns
from fermion.linux.ovs import Ovs
from fermion.linux.process import Daemon

LOG = logging.getLogger(__name__)

NS_PREFIX = "qdhcp-"
BRIDGE = "br-int"


@dataclass
class ApplyResult:
    networks: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)     # dnsmasq started or restarted
    adopted: list[str] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)    # SIGHUP
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    ports_created: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict:
        return {k: sorted(v) if isinstance(v, list) else dict(v)
                for k, v in dataclasses.asdict(self).items()}


class DhcpApplier:
    def __init__(self, host: str, client, ovs: Ovs, conf: DhcpConf, *, state_dir: str,
                 metadata_socket: str, namespace_prefix: str = "", ovs_netns: str | None = None,
                 threads: int = 4):
        self.host = host
        self.client = client
        self.ovs = ovs
        self.conf = conf
        self.state_dir = Path(state_dir)
        self.metadata_socket = metadata_socket
        self.ns_prefix = namespace_prefix + NS_PREFIX
        self.ovs_netns = ovs_netns
        self.threads = max(1, threads)
        self.applied: dict[str, NetworkDhcp] = {}
        self.failures = Failures("network", expected=EXPECTED)
        self.removals = Failures("removal of network", expected=EXPECTED)

    # -------------------------------------------------------------- names and handles
    def namespace(self, network_id: str) -> str:
        return self.ns_prefix + network_id

    def paths(self, network_id: str) -> dnsmasq.Paths:
        return dnsmasq.Paths(self.state_dir / network_id)

    def dnsmasq_daemon(self, net: NetworkDhcp, device: str) -> Daemon:
        paths = self.paths(net.network_id)
        argv = dnsmasq.render_argv(net, self.conf, paths, device)
        return Daemon(argv, pidfile=paths.pid, netns=self.namespace(net.network_id))

    def proxy_config(self, network_id: str) -> ProxyConfig:
        pidfile = str(self.state_dir / network_id / "haproxy.pid")
        return ProxyConfig.for_network(network_id, self.metadata_socket, pidfile)

    # -------------------------------------------------------------- the pass
    def reconcile(self, desired: Mapping[str, NetworkDhcp], snapshot: Mapping) -> ApplyResult:
        result = ApplyResult(networks=sorted(desired))
        self.failures.keep_only(desired)
        todo, waiting = [], []
        for net_id, net in sorted(desired.items()):
            if self.applied.get(net_id) == net:
                continue
            (todo if self.failures.due(net_id, net) else waiting).append(net)
        result.unchanged = sorted(set(desired) - {n.network_id for n in todo + waiting})
        for net in waiting:  # failed before, retry not due: still failing
            result.errors[net.network_id] = self.failures.reason(net.network_id) or "failed"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o755)  # dnsmasq re-reads its files as an unprivileged user
        if todo:
            view = interface.NetView(self.ovs)  # namespaces and OVS read once this pass
            with ThreadPoolExecutor(min(self.threads, len(todo))) as pool:
                list(pool.map(lambda net: self._apply_contained(net, result, view), todo))
        stale = sorted(self._present() - set(desired))
        self.removals.keep_only(stale)
        for net_id in stale:
            if self.removals.due(net_id):
                self._contained(self.removals, net_id, result, self.remove_network, net_id)
        result.removed = [n for n in stale if n not in self.removals]
        self._release_ports(desired, snapshot)
        self.check_daemons(result)
        return result

    def _apply_contained(self, net: NetworkDhcp, result: ApplyResult,
                         view: interface.NetView | None = None) -> None:
        self._contained(self.failures, net.network_id, result, self.apply_network, net,
                        result, view, desired=net)

    def _contained(self, failures: Failures, net_id: str, result: ApplyResult, fn, *args,
                   desired: object = None) -> None:
        """Run one network's step; a failure is recorded (and logged) and goes no further."""
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - one network must not stop the others
            result.errors[net_id] = failures.failed(net_id, exc, desired).reason
            self.applied.pop(net_id, None)
            return
        failures.succeeded(net_id)

    def apply_network(self, net: NetworkDhcp, result: ApplyResult,
                      view: interface.NetView | None = None) -> None:
        net_id = net.network_id
        port = self._ensure_port(net, result)
        if port is not net.dhcp_port:
            net = with_dhcp_port(net, port)
        netns = self.namespace(net_id)
        device = "tap" + port["id"][:11]
        interface.plug(self.ovs, interface.PlugSpec(
            device=device, netns=netns, bridge=BRIDGE, port_id=port["id"],
            mac=port["mac_address"], mtu=net.mtu, ovs_netns=self.ovs_netns), view)
        cidrs = net.dhcp_cidrs() + ([f"{METADATA_IP}/32"] if net.metadata else [])
        interface.set_addresses(device, cidrs, netns=netns, view=view)

        paths = self.paths(net_id)
        paths.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(paths.dir, 0o755)
        changed = [name for name, text in dnsmasq.render_files(net, self.conf).items()
                   if files.replace_if_different(paths.dir / name, text)]
        _pid, what = self.dnsmasq_daemon(net, device).ensure()
        if what == "adopted":
            if changed:
                self.dnsmasq_daemon(net, device).reload()
                result.reloaded.append(net_id)
            else:
                result.adopted.append(net_id)
        else:
            result.started.append(net_id)

        cfg = self.proxy_config(net_id)
        if net.metadata:
            ensure_proxy(cfg, netns)
            result.metadata.append(net_id)
        else:
            proxy_daemon(cfg, netns).stop()
        self.applied[net_id] = net

    def check_daemons(self, result: ApplyResult | None = None) -> list[str]:
        """Restart the dnsmasq / haproxy of applied networks that died; returns their
        network ids. Cheap: reads pid files and /proc only."""
        restarted = []
        for net_id, net in sorted(self.applied.items()):
            device = "tap" + net.dhcp_port["id"][:11]
            try:
                daemon = self.dnsmasq_daemon(net, device)
                if daemon.pid() is None:
                    LOG.warning("dnsmasq of network %s is not running: restarting", net_id)
                    daemon.ensure()
                    restarted.append(net_id)
                cfg = self.proxy_config(net_id)
                if net.metadata and proxy_daemon(cfg, self.namespace(net_id)).pid() is None:
                    LOG.warning("metadata proxy of network %s is not running: restarting",
                                net_id)
                    ensure_proxy(cfg, self.namespace(net_id))
                    restarted.append(net_id)
            except Exception as exc:  # noqa: BLE001 - nor one dead daemon
                reason = self.failures.failed(net_id, exc, net).reason
                self.applied.pop(net_id, None)  # the next due pass applies it again
                if result is not None:
                    result.errors[net_id] = reason
        return restarted

    # -------------------------------------------------------------- the DHCP port
    def _ensure_port(self, net: NetworkDhcp, result: ApplyResult) -> dict:
        subnets = [s.id for s in net.subnets]
        port = net.dhcp_port
        if port is None:
            port = self.client.create_port({
                "network_id": net.network_id, "device_owner": DHCP_OWNER,
                "device_id": dhcp_device_id(self.host, net.network_id),
                "binding:host_id": self.host, "admin_state_up": True,
                "fixed_ips": [{"subnet_id": s} for s in subnets]})
            result.ports_created.append(net.network_id)
            LOG.info("network %s: created DHCP port %s", net.network_id, port["id"])
            return port
        have = [f for f in port.get("fixed_ips", []) if f["subnet_id"] in subnets]
        missing = [{"subnet_id": s} for s in subnets
                   if s not in {f["subnet_id"] for f in have}]
        changes: dict = {}
        if missing or len(have) != len(port.get("fixed_ips", [])):
            changes["fixed_ips"] = [{"subnet_id": f["subnet_id"],
                                     "ip_address": f["ip_address"]} for f in have] + missing
        if port.get("binding:host_id") != self.host:
            changes["binding:host_id"] = self.host
        if changes:
            port = self.client.update_port(port["id"], changes)
            LOG.info("network %s: updated DHCP port %s: %s", net.network_id, port["id"],
                     sorted(changes))
        return port

    def _release_ports(self, desired: Mapping[str, NetworkDhcp], snapshot: Mapping) -> None:
        """Delete our DHCP ports on networks we no longer serve (but that still exist)."""
        for port in snapshot.get("ports", []):
            net_id = port.get("network_id")
            if (net_id not in desired and port.get("device_owner") == DHCP_OWNER
                    and port.get("device_id") == dhcp_device_id(self.host, net_id)):
                try:
                    self.client.delete_port(port["id"])
                    LOG.info("network %s: deleted our DHCP port %s", net_id, port["id"])
                except EXPECTED as exc:  # the next pass sees the port again
                    LOG.error("network %s: cannot delete DHCP port %s: %s", net_id,
                              port["id"], exc)

    # -------------------------------------------------------------- removal
    def _present(self) -> set[str]:
        """Networks with something of ours on this host: a namespace or a state dir."""
        found = {n[len(self.ns_prefix):] for n in ns.list_netns()
                 if n.startswith(self.ns_prefix)}
        if self.state_dir.is_dir():
            found |= {d.name for d in self.state_dir.iterdir() if d.is_dir()}
        return found

    def remove_network(self, network_id: str) -> None:
        """Stop the network's processes (by verified pid), unplug, delete its namespace and
        files. Safe when some or all of it is already gone."""
        paths = self.paths(network_id)
        netns = self.namespace(network_id)
        Daemon(["dnsmasq"], pidfile=paths.pid, netns=netns).stop()
        proxy_daemon(self.proxy_config(network_id), netns).stop()
        if ns.netns_exists(netns):
            for dev in ns.list_links(netns=netns):
                if dev.startswith("tap"):
                    interface.unplug(self.ovs, dev, netns, ovs_netns=self.ovs_netns)
            ns.delete_netns(netns)
        shutil.rmtree(paths.dir, ignore_errors=True)
        self.applied.pop(network_id, None)
        LOG.info("network %s: removed", network_id)

    def remove_all(self) -> list[str]:
        """Remove every network of ours on this host (tests, `--cleanup`)."""
        gone = sorted(self._present())
        for net_id in gone:
            self.remove_network(net_id)
        return gone
