"""Simulated hosts (fermion.lab.host) build a working userspace-OVS data plane.

Behaviour only: packets pass between instances on one host and across hosts over a
userspace VXLAN tunnel, and destroying a group leaves nothing with its prefix behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fermion.lab.host import Instance, plug_instance, sweep_stale, unplug_instance
from fermion.linux import netns as ns
from fermion.linux.cmd import CommandError

pytestmark = pytest.mark.root

# A one-connection TCP echo server that prints READY once listening, and a client that
# sends 256 KiB (many full-size segments) and checks every byte comes back.
ECHO_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); print("READY", flush=True)
s.settimeout(10); c, _ = s.accept(); c.settimeout(10)
while data := c.recv(65536):
    c.sendall(data)
c.close()
"""
ECHO_CLIENT = """
import socket, sys
payload = bytes(range(256)) * 1024
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(payload); c.shutdown(socket.SHUT_WR)
got = b""
while data := c.recv(65536):
    got += data
assert got == payload, f"echoed {len(got)} bytes, expected {len(payload)}"
print("OK")
"""


PING = ["ping"] if shutil.which("ping") else ["busybox", "ping"]


def ping(src: Instance, dst: Instance, *, count: int = 3, settle: float = 5.0) -> None:
    """Wait (up to `settle` s) for a first reply, then require `count` replies of `count`."""
    deadline = time.monotonic() + settle
    while src.exec([*PING, "-c1", "-w1", dst.ip], check=False).returncode != 0:
        if time.monotonic() > deadline:
            break
    out = src.exec([*PING, "-c", str(count), "-i", "0.2", "-w", "5", dst.ip], check=False)
    received = re.search(r"(\d+) (?:packets )?received", out.stdout)
    assert received and int(received.group(1)) == count, out.stdout + out.stderr


def tcpdump_listening(cap) -> None:
    """Wait until the tcpdump started as `cap` (stderr piped, text) says "listening on"."""
    seen = []
    for line in cap.stderr:
        if "listening on" in line:
            return
        seen.append(line)
    raise AssertionError(f"tcpdump exited ({cap.wait()}) before listening: {''.join(seen)}")


class Lines:
    """A process's output read line by line in a thread, so a test can wait for what it
    says (`wait_for`) while it runs, and read all of it (`text`) once it has ended."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def count(self, needle: str) -> int:
        with self._cond:
            return sum(needle in line for line in self.lines)

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
        """Until `check()` holds (it may call `count`); fails when the output ends or
        `timeout` passes first."""
        with self._cond:  # re-entrant: check() may take it again
            self._cond.wait_for(lambda: check() or self.closed, timeout)
            assert check(), f"no {what} in the output:\n{''.join(self.lines)[-2000:]}"

    def text(self, timeout: float = 30.0) -> str:
        self._thread.join(timeout)
        return "".join(self.lines)


def tcp_echo(server: Instance, client: Instance, port: int = 8000) -> None:
    proc = server.popen([sys.executable, "-c", ECHO_SERVER, server.ip, str(port)],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        out = client.exec([sys.executable, "-c", ECHO_CLIENT, server.ip, str(port)],
                          timeout=20)
        assert out.stdout.strip() == "OK"
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_one_host_two_instances_ping_and_tcp(lab_hosts):
    host = lab_hosts.add_host("h1")
    host.ovs.add_bridge("br-int")
    host.ovs.add_bridge("br-int")  # idempotent
    host.ovs.ofctl("br-int", "del-flows")
    host.ovs.ofctl("br-int", "add-flow", "actions=NORMAL")
    vm1 = plug_instance(host, "vm1", "fa:16:3e:00:00:01", "10.0.0.1/24", "br-int")
    vm2 = plug_instance(host, "vm2", "fa:16:3e:00:00:02", "10.0.0.2/24", "br-int")

    assert sorted(host.ovs.list_ports("br-int")) == sorted([vm1.port, vm2.port])
    assert host.ovs.external_ids(vm1.port) == {
        "iface-id": vm1.iface_id, "attached-mac": "fa:16:3e:00:00:01",
        "iface-status": "active", "vm-uuid": vm1.vm_uuid,
    }
    assert host.ovs.ofport(vm1.port) > 0
    ping(vm1, vm2)
    tcp_echo(vm2, vm1)  # passes only with tx checksum offload off on the instance veths


def test_two_hosts_vxlan_over_underlay(lab_hosts):
    h1, h2 = lab_hosts.add_host("h1"), lab_hosts.add_host("h2")
    ul = lab_hosts.add_underlay("ul")
    ul.attach(h1, "192.168.100.1/24")
    ul.attach(h2, "192.168.100.2/24")
    assert (h1.local_ip, h2.local_ip) == ("192.168.100.1", "192.168.100.2")
    # underlay reachability between the hosts' tunnel endpoints
    h1.exec([*PING, "-c1", "-w2", h2.local_ip])

    vms = []
    for i, (host, peer) in enumerate(((h1, h2), (h2, h1)), start=1):
        host.ovs.add_bridge("br-int")
        host.ovs.add_tunnel_port("br-int", "vxlan-peer", peer.local_ip, key="100")
        vms.append(plug_instance(host, f"vm{i}", f"fa:16:3e:00:01:0{i}", f"10.1.0.{i}/24",
                                 "br-int", mtu=1450))
    vm1, vm2 = vms
    ping(vm1, vm2, settle=10)
    tcp_echo(vm1, vm2)
    # the traffic went through the tunnels, routed by OVS from the underlay address
    assert "192.168.100.0/24" in h1.ovs.appctl("ovs/route/show")
    for host in (h1, h2):  # datapath flows encapsulate with VNI 100 and decapsulate
        dp_flows = host.ovs.appctl("dpctl/dump-flows")
        assert "tnl_push(" in dp_flows and "vni=0x64" in dp_flows and "tnl_pop(" in dp_flows


def test_verbs_are_idempotent(lab_hosts):
    host = lab_hosts.add_host("h1")
    ovs = host.ovs
    for _ in range(2):
        ovs.add_bridge("br-int")
        ovs.add_bridge("br-tun")
        ovs.add_internal_port("br-int", "int0", tag=5, external_ids={"owner": "test"})
        ovs.add_patch_pair("br-int", "patch-tun", "br-tun", "patch-int")
        ns.add_veth("va", "vb", netns=host.ns, peer_netns=host.ns)
        ns.add_address("int0", "10.9.0.1/24", netns=host.ns)
    assert sorted(ovs.list_ports("br-int")) == ["int0", "patch-tun"]
    assert ovs.list_ports("br-tun") == ["patch-int"]
    assert ovs.vsctl("get", "Port", "int0", "tag").strip() == "5"
    ovs.set_tag("int0", None)
    assert ovs.vsctl("get", "Port", "int0", "tag").strip() == "[]"
    ovs.set_external_ids("int0", {"owner": "other", "extra": "fa:16:3e:00:00:09"})
    assert ovs.external_ids("int0") == {"owner": "other", "extra": "fa:16:3e:00:00:09"}
    assert ns.list_addresses("int0", netns=host.ns) == ["10.9.0.1/24"]
    assert ovs.ofctl("br-tun", "show").count("patch-int") == 1

    vm = plug_instance(host, "vm1", "fa:16:3e:00:03:01", "10.9.0.2/24", "br-int")
    for _ in range(2):
        unplug_instance(vm)
        ovs.del_port("patch-tun")
        ns.delete_link("va", netns=host.ns)
    assert ovs.list_ports("br-int") == ["int0"]
    assert vm.ns not in ns.list_netns()
    assert not ns.link_exists("vb", netns=host.ns)


def test_command_errors_name_the_command(lab_hosts):
    host = lab_hosts.add_host("h1")
    with pytest.raises(CommandError) as err:
        host.ovs.add_port("no-such-bridge", "p0")
    assert "ovs-vsctl" in str(err.value) and "no-such-bridge" in str(err.value)
    assert err.value.returncode != 0 and err.value.stderr


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmd:
            found.append(f"{pid}: {cmd}")
    return found


def test_destroy_leaves_nothing_behind(lab_hosts):
    h1 = lab_hosts.add_host("h1")
    h2 = lab_hosts.add_host("h2")
    ul = lab_hosts.add_underlay()
    ul.attach(h1, "192.168.101.1/24")
    ul.attach(h2, "192.168.101.2/24")
    h1.ovs.add_bridge("br-int")
    plug_instance(h1, "vm1", "fa:16:3e:00:02:01", "10.2.0.1/24", "br-int")
    with pytest.raises(CommandError, match="address"):  # fails half-way: ns + veth made
        plug_instance(h1, "bad", "not-a-mac", "10.2.0.9/24", "br-int")
    assert f"{h1.ns}-bad" in ns.list_netns()
    prefix = lab_hosts.prefix
    assert len([n for n in ns.list_netns() if n.startswith(prefix)]) == 5
    assert _processes_mentioning(str(lab_hosts.dir))

    lab_hosts.destroy()

    assert [n for n in ns.list_netns() if n.startswith(prefix)] == []
    assert _processes_mentioning(str(lab_hosts.dir)) == []
    assert _processes_mentioning(prefix) == []
    assert [link for link in ns.list_links() if prefix in link] == []
    assert not lab_hosts.dir.exists()
    lab_hosts.destroy()  # idempotent


CRASHING_OWNER = """
import os, sys
from fermion.lab.host import HostGroup, plug_instance
g = HostGroup.create()
h = g.add_host("h1")
h.ovs.add_bridge("br-int")
plug_instance(h, "vm1", "fa:16:3e:00:04:01", "10.4.0.1/24", "br-int")
print(g.prefix, g.dir, flush=True)
os._exit(0)  # dies without destroying anything, like a killed session
"""


def test_sweep_stale_removes_groups_of_dead_owners(lab_hosts):
    out = subprocess.run([sys.executable, "-c", CRASHING_OWNER], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    prefix, gdir = out.split()
    assert len([n for n in ns.list_netns() if n.startswith(prefix)]) == 2
    assert _processes_mentioning(gdir)

    assert prefix in sweep_stale()

    assert [n for n in ns.list_netns() if n.startswith(prefix)] == []
    assert _processes_mentioning(gdir) == []
    assert not Path(gdir).exists()
    assert lab_hosts.dir.exists()  # our own (live) group is left alone
