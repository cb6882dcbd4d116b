"""Simulated hosts: a namespace + its own OVS; instances; an underlay joining hosts.

See the package docstring for the naming scheme. Typical use::

    group = HostGroup.create()            # unique prefix, run dirs under /tmp/fermion-lab
    h1, h2 = group.add_host("h1"), group.add_host("h2")
    ul = group.add_underlay("ul")
    ul.attach(h1, "192.168.100.1/24"); ul.attach(h2, "192.168.100.2/24")
    h1.ovs.add_bridge("br-int")
    vm = plug_instance(h1, "vm1", "fa:16:3e:00:00:01", "10.0.0.1/24", "br-int")
    vm.exec(["ping", "-c1", "10.0.0.2"])
    group.destroy()
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fermion.linux import netns as ns
from fermion.linux.ovs import Ovs, OvsDaemon, stop_pid

LOG = logging.getLogger(__name__)

DEFAULT_WORKDIR = Path(os.environ.get("FERMION_LAB_DIR", "/tmp/fermion-lab"))
OWNER_FILE = "owner.pid"


class TeardownError(RuntimeError):
    """Some undo steps failed; every step was still attempted."""

    def __init__(self, failures: list[str]):
        self.failures = failures
        super().__init__("teardown incomplete:\n  " + "\n  ".join(failures))


class Teardown:
    """A stack of idempotent undo steps, run newest first; failures are collected."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], object]]] = []

    def add(self, what: str, fn: Callable[..., object], *args, **kwargs) -> None:
        self._steps.append((what, lambda: fn(*args, **kwargs)))

    def __len__(self) -> int:
        return len(self._steps)

    def run(self) -> list[str]:
        failures = []
        while self._steps:
            what, step = self._steps.pop()
            try:
                step()
            except Exception as exc:  # keep going: remove as much as possible
                LOG.warning("teardown step %r failed: %s", what, exc)
                failures.append(f"{what}: {exc}")
        return failures


class Host:
    """A simulated host: namespace `<prefix><name>` running its own OVS from `rundir`."""

    def __init__(self, name: str, *, prefix: str, workdir: Path,
                 datapath_type: str | None = None):
        self.name = name
        self.prefix = prefix
        self.ns = prefix + name
        self.rundir = Path(workdir) / name
        self.daemon = OvsDaemon(self.rundir, netns=self.ns, datapath_type=datapath_type)
        self.ovs: Ovs = self.daemon.client()
        self.teardown = Teardown()
        self.instances: dict[str, Instance] = {}
        self.local_ip: str | None = None

    def __repr__(self) -> str:
        return f"Host({self.name!r}, ns={self.ns!r})"

    def create(self) -> Host:
        """Make the namespace and start OVS in it. Records each step before taking it."""
        self.teardown.add(f"remove {self.rundir}", shutil.rmtree, self.rundir, ignore_errors=True)
        self.teardown.add(f"delete netns {self.ns}", ns.delete_netns, self.ns)
        ns.add_netns(self.ns)
        self.teardown.add(f"stop OVS of {self.ns}", self.daemon.stop)
        self.daemon.start()
        return self

    def destroy(self) -> None:
        """Remove everything recorded for this host (instances too); raise TeardownError
        listing what could not be removed, after trying all of it."""
        failures = self.teardown.run()
        self.instances.clear()
        if failures:
            raise TeardownError(failures)

    def exec(self, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess[str]:
        return ns.exec_in(self.ns, argv, **kwargs)

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        return ns.popen_in(self.ns, argv, **kwargs)


@dataclass
class Instance:
    """A VM stand-in: namespace `ns` with `dev` (eth0) wired to OVS port `port` on `host`."""

    host: Host
    name: str
    ns: str
    mac: str
    cidr: str
    bridge: str
    port: str
    iface_id: str
    vm_uuid: str
    dev: str = "eth0"
    external_ids: dict[str, str] = field(default_factory=dict)

    @property
    def ip(self) -> str:
        return self.cidr.split("/")[0]

    def exec(self, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess[str]:
        return ns.exec_in(self.ns, argv, **kwargs)

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        return ns.popen_in(self.ns, argv, **kwargs)


def plug_instance(host: Host, name: str, mac: str, ip: str, bridge: str = "br-int",
                  iface_id: str | None = None, *, vm_uuid: str | None = None,
                  mtu: int | None = None, gateway: str | None = None) -> Instance:
    """Create instance namespace `<host.ns>-<name>` and plug it as os-vif would.

    The host end `tap<iface_id[:11]>` becomes an OVS port on `bridge` with external_ids
    iface-id, attached-mac, iface-status=active and vm-uuid; the instance end `eth0` gets
    `mac`, `ip` (CIDR), optional `mtu` and default route via `gateway`, and tx checksum
    offload off (userspace OVS delivers broken TCP/UDP checksums otherwise).
    """
    iface_id = iface_id or str(uuid.uuid4())
    vm_uuid = vm_uuid or str(uuid.uuid4())
    if "/" not in ip:
        raise ValueError(f"instance address must be a CIDR, got {ip!r}")
    inst = Instance(host=host, name=name, ns=f"{host.ns}-{name}", mac=mac, cidr=ip,
                    bridge=bridge, port=f"tap{iface_id[:11]}", iface_id=iface_id,
                    vm_uuid=vm_uuid)
    inst.external_ids = {"iface-id": iface_id, "attached-mac": mac,
                         "iface-status": "active", "vm-uuid": vm_uuid}
    t = host.teardown
    t.add(f"delete netns {inst.ns}", ns.delete_netns, inst.ns)
    t.add(f"delete link {inst.port}", ns.delete_link, inst.port, netns=host.ns)
    t.add(f"delete OVS port {inst.port}", _del_port_if_running, host, inst.port)
    host.instances[name] = inst

    ns.add_netns(inst.ns)
    ns.add_veth(inst.port, inst.dev, netns=host.ns, peer_netns=inst.ns)
    ns.set_mac(inst.dev, mac, netns=inst.ns)
    if mtu:
        ns.set_mtu(inst.dev, mtu, netns=inst.ns)
        ns.set_mtu(inst.port, mtu, netns=host.ns)
    ns.add_address(inst.dev, ip, netns=inst.ns)
    ns.disable_tx_offload(inst.dev, netns=inst.ns)
    ns.set_up(inst.dev, netns=inst.ns)
    ns.set_up(inst.port, netns=host.ns)
    if gateway:
        ns.add_route("default", via=gateway, netns=inst.ns)
    host.ovs.add_port(bridge, inst.port, external_ids=inst.external_ids)
    return inst


def unplug_instance(inst: Instance) -> None:
    """Undo `plug_instance` now (the host's teardown steps for it become no-ops)."""
    _del_port_if_running(inst.host, inst.port)
    ns.delete_link(inst.port, netns=inst.host.ns)
    ns.delete_netns(inst.ns)
    inst.host.instances.pop(inst.name, None)


def _del_port_if_running(host: Host, port: str) -> None:
    if host.daemon.running():
        host.ovs.del_port(port)


class Underlay:
    """A "physical" L2 segment: Linux bridge `ulbr` in namespace `<prefix><name>`.

    `attach()` gives a host a NIC on it (veth, `ul0` on the host side). With `cidr`, the NIC
    is put on OVS bridge `ovs_bridge` (default br-ul) and the address on that bridge's
    internal port in the host namespace — where userspace tunnels are routed from — and
    becomes the host's `local_ip`. Without `ovs_bridge`, the NIC is left bare (e.g. for the
    agent to add to a bridge_mappings bridge).
    """

    BRIDGE = "ulbr"

    def __init__(self, name: str, *, prefix: str):
        self.name = name
        self.ns = prefix + name
        self.teardown = Teardown()
        self._count = 0
        self.links: dict[tuple[str, str], str] = {}  # (host, host ifname) → our ifname

    def create(self) -> Underlay:
        self.teardown.add(f"delete netns {self.ns}", ns.delete_netns, self.ns)
        ns.add_netns(self.ns)
        ns.add_bridge(self.BRIDGE, netns=self.ns)
        ns.set_up(self.BRIDGE, netns=self.ns)
        return self

    def destroy(self) -> None:
        failures = self.teardown.run()
        if failures:
            raise TeardownError(failures)

    def attach(self, host: Host, cidr: str | None = None, *, ifname: str = "ul0",
               ovs_bridge: str | None = "br-ul", mtu: int | None = None) -> str:
        """Give `host` a NIC `ifname` on this segment; returns the NIC's name on our side."""
        key = (host.name, ifname)
        if key in self.links:
            ours = self.links[key]
        else:
            self._count += 1
            ours = self.links[key] = f"u{self._count}"
        host.teardown.add(f"delete link {ifname}", ns.delete_link, ifname, netns=host.ns)
        ns.add_veth(ours, ifname, netns=self.ns, peer_netns=host.ns)
        ns.set_master(ours, self.BRIDGE, netns=self.ns)
        if mtu:
            ns.set_mtu(ours, mtu, netns=self.ns)
            ns.set_mtu(ifname, mtu, netns=host.ns)
        ns.disable_tx_offload(ours, netns=self.ns)
        ns.set_up(ours, netns=self.ns)
        ns.set_up(ifname, netns=host.ns)
        if ovs_bridge:
            host.ovs.add_bridge(ovs_bridge)
            host.ovs.add_port(ovs_bridge, ifname)
            if cidr:
                set_local_ip(host, ovs_bridge, cidr)
        elif cidr:
            ns.disable_tx_offload(ifname, netns=host.ns)
            ns.add_address(ifname, cidr, netns=host.ns)
            host.local_ip = cidr.split("/")[0]
        return ours

    def tcpdump_argv(self, host: Host, *args: str, ifname: str = "ul0") -> list[str]:
        """`tcpdump` on `host`'s NIC `ifname` as seen from the segment (run it in `self.ns`,
        e.g. with `fermion.linux.netns.popen_in`)."""
        return ["tcpdump", "-i", self.links[(host.name, ifname)], *args]


def set_local_ip(host: Host, port: str, cidr: str) -> None:
    """Put the tunnel endpoint address on OVS internal port `port` in the host namespace
    (userspace tunnels route from addresses on OVS internal ports) and bring it up."""
    ns.add_address(port, cidr, netns=host.ns)
    ns.set_up(port, netns=host.ns)
    host.local_ip = cidr.split("/")[0]


class HostGroup:
    """Hosts and underlays sharing a unique prefix; `destroy()` removes all of them.

    The group's directory `<workdir>/<prefix>` holds `owner.pid` (the process that made it)
    and one run directory per host, so `sweep_stale()` can clean up after a crash.
    """

    def __init__(self, prefix: str, workdir: Path = DEFAULT_WORKDIR,
                 datapath_type: str | None = None):
        if not prefix or len(prefix) > 12:
            raise ValueError(f"prefix {prefix!r} must be 1-12 characters")
        self.prefix = prefix
        self.dir = Path(workdir) / prefix.rstrip("-")
        self.datapath_type = datapath_type
        self.hosts: dict[str, Host] = {}
        self.underlays: dict[str, Underlay] = {}
        self._order: list[Host | Underlay] = []

    @classmethod
    def create(cls, workdir: Path = DEFAULT_WORKDIR, *, prefix: str | None = None,
               datapath_type: str | None = None) -> HostGroup:
        group = cls(prefix or f"fm{uuid.uuid4().hex[:6]}-", workdir, datapath_type)
        group.dir.mkdir(parents=True, exist_ok=False)
        (group.dir / OWNER_FILE).write_text(str(os.getpid()))
        return group

    def add_host(self, name: str) -> Host:
        host = Host(name, prefix=self.prefix, workdir=self.dir,
                    datapath_type=self.datapath_type)
        self.hosts[name] = host
        self._order.append(host)
        return host.create()

    def add_underlay(self, name: str = "ul") -> Underlay:
        ul = Underlay(name, prefix=self.prefix)
        self.underlays[name] = ul
        self._order.append(ul)
        return ul.create()

    def destroy(self) -> None:
        failures: list[str] = []
        for thing in reversed(self._order):
            try:
                thing.destroy()
            except TeardownError as exc:
                failures += exc.failures
        self._order.clear()
        for netns in ns.list_netns():  # anything named by us but not recorded
            if netns.startswith(self.prefix):
                failures.append(f"unrecorded namespace {netns} (deleted)")
                ns.delete_netns(netns)
        shutil.rmtree(self.dir, ignore_errors=True)
        if failures:
            raise TeardownError(failures)


def sweep_stale(workdir: Path = DEFAULT_WORKDIR) -> list[str]:
    """Remove groups whose owner process is gone: stop their OVS daemons (by the pids in
    their pidfiles, checked against the run directory), delete their namespaces, remove
    their directories. Returns the prefixes swept."""
    swept = []
    if not Path(workdir).is_dir():
        return swept
    for gdir in sorted(Path(workdir).iterdir()):
        try:
            owner = int((gdir / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        for daemon in reversed(OvsDaemon.DAEMONS):  # ovs-vswitchd before ovsdb-server
            for pidfile in sorted(gdir.glob(f"*/{daemon}.pid")):
                try:
                    stop_pid(int(pidfile.read_text()), str(pidfile.parent))
                except (OSError, ValueError):
                    pass
        prefix = gdir.name + "-"
        for netns in ns.list_netns():
            if netns.startswith(prefix):
                ns.delete_netns(netns)
        shutil.rmtree(gdir, ignore_errors=True)
        swept.append(prefix)
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
