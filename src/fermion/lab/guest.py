"""Guests: instances as a compute host runs them, until the Compute API creates servers.

Runs inside a compute host (``python -m fermion.lab.hostside guests``). A guest is a capsule
nested in the host's (network, mount, UTS and PID namespaces; its init is PID 1; the host's
``ps`` shows its processes as a hypervisor's would) with its own /etc, /var, /tmp, /root,
/home and /run, and its console output in the host's /var/log/guests/<name>/console.log
(kept after ``lab down``). It is plugged the way os-vif plugs a VM::

    guest: eth0 (the port's MAC; tx offload off) ══ veth ══ tap<port[:11]> on br-int
           external_ids iface-id, attached-mac, iface-status=active, vm-uuid; MTU of the network

and boots like a cloud image without cloud-init: ``busybox udhcpc -O staticroutes -O mtu``
with an event script that applies address, MTU, option-121 routes (else the router) and DNS.
Its record (init pid in this host's numbering, port, MAC) goes to
/run/fermion/guests/<name>.json, which ``fermion lab exec <instance>`` reads.
"""

from __future__ import annotations

import json
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fermion.lab.plan import mount_script
from fermion.linux import capsule
from fermion.linux import netns as ns
from fermion.linux.ovs import Ovs

GUESTS = Path("/run/fermion/host/guests")  # the host's real file system (see mount_script)
RECORDS = Path("/run/fermion/guests")
CONSOLES = "/run/fermion/log/guests"  # = the host's /var/log/guests
PRIVATE = ("/etc", "/var", "/tmp", "/root", "/home")
SCRIPT = "/etc/udhcpc/lab.script"

UDHCPC_SCRIPT = r"""#!/bin/sh
# udhcpc event script of a lab guest: apply the lease as a cloud image would.
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip addr replace "$ip/$mask" dev "$interface"
    if [ -n "$staticroutes" ]; then      # option 121: the router option is ignored (RFC 3442)
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            ip route replace "$1" via "$2" dev "$interface"
            shift 2
        done
    elif [ -n "$router" ]; then
        ip route replace default via "${router%% *}" dev "$interface"
    fi
    : >/etc/resolv.conf
    for server in $dns; do echo "nameserver $server" >>/etc/resolv.conf; done
    echo "lease: $ip/$mask mtu ${mtu:-default} router ${router:-none} routes ${staticroutes:-none}"
    ;;
esac
exit 0
"""


def udhcpc_argv(name: str, device: str = "eth0") -> list[str]:
    """The guest's DHCP client: foreground (renews its lease), asks for option 121 and the
    MTU, retries every second while the DHCP server is not there yet."""
    return ["busybox", "udhcpc", "-f", "-i", device, "-O", "staticroutes", "-O", "mtu", "-s", SCRIPT,
            "-x", f"hostname:{name}", "-T", "1", "-t", "5", "-A", "1"]


def create(spec: dict, ovs: Ovs) -> dict:
    """Make, plug and boot one guest (spec: name, port_id, mac, mtu, vm_uuid, bridge)."""
    name, port = spec["name"], spec["port_id"]
    home = GUESTS / name
    g = capsule.find(home / "capsule") or capsule.spawn(home / "capsule")
    tap = f"tap{port[:11]}"
    record = {"name": name, "pid": g.init, "holder": g.holder, "tap": tap, **spec}
    if not (home / ".mounted").exists():
        g.run(["sh", "-c", mount_script(hostname=name, state=str(home),
                                        logs=f"{CONSOLES}/{name}", private=PRIVATE)])
        (home / ".mounted").touch()
        g.run(["sh", "-c", f"mkdir -p /etc/udhcpc && cat >{SCRIPT} && chmod +x {SCRIPT}"],
              input=UDHCPC_SCRIPT)
    if not ns.link_exists(tap):
        ns.add_veth(tap, "eth0", peer_netns=str(g.init))  # `ip … netns PID`, our /proc
    g.run(["ip", "link", "set", "dev", "eth0", "address", spec["mac"]])
    g.run(["ethtool", "-K", "eth0", "tx", "off"])
    g.run(["ip", "link", "set", "dev", "eth0", "up"])
    if spec.get("mtu"):
        ns.set_mtu(tap, spec["mtu"])
    ns.set_up(tap)
    ovs.add_port(spec.get("bridge", "br-int"), tap, external_ids={
        "iface-id": port, "attached-mac": spec["mac"], "iface-status": "active",
        "vm-uuid": spec["vm_uuid"]})
    boot = f"{shlex.join(udhcpc_argv(name))} >>/var/log/console.log 2>&1 </dev/null & echo $!"
    record["dhcp_pid"] = int(g.run(["sh", "-c", boot]).stdout.split()[-1])
    RECORDS.mkdir(parents=True, exist_ok=True)
    (RECORDS / f"{name}.json").write_text(json.dumps(record))
    return record


def create_all(plan: dict) -> dict:
    ovs = Ovs("/run/openvswitch", datapath_type="netdev")
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda s: create(s, ovs), plan["guests"]))
    return {"guests": done}
