"""What runs *inside* a lab host: the operator's setup of that machine, then its daemons.

The builder enters a host (``nsenter`` into its capsule) and runs
``python -m fermion.lab.hostside STEP`` with a JSON plan (`fermion.lab.plan.HostPlan`) on
stdin; the answer is JSON on stdout. Everything here uses the host's own view — its
network namespace, its /run, /etc, /var, its ``ip netns`` — exactly as on a real machine:

  setup   /etc/hosts and the INI files; NICs up (tx checksum offload off: their other ends
          feed userspace OVS); ovsdb-server/ovs-vswitchd with their default sockets in
          /run/openvswitch and logs in /var/log/openvswitch; br-phy holding the underlay NIC
          and the tunnel address; the provider bridge holding its NIC (and the gateway
          address); plain addresses, routes, forwarding and iptables.
  start   the daemons (server, agents) with the plan's command lines, in their own session,
          output to their log; pids in /run/fermion/<daemon>.pid (this host's numbering).
  guests  (compute hosts) guests plugged into br-int: see `fermion.lab.guest`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fermion.linux import netns as ns
from fermion.linux.cmd import run
from fermion.linux.ovs import OvsDaemon

OVS_RUNDIR = "/run/openvswitch"
OVS_LOGDIR = "/var/log/openvswitch"
PID_DIR = Path("/run/fermion")


def setup(plan: dict) -> dict:
    _write("/etc/hosts", plan["hosts_file"])
    _write("/etc/resolv.conf", "# a lab host: the lab is closed, there is no DNS server\n")
    for path, text in plan["files"].items():
        _write(path, text)
    for directory in ("/var/lib/neutron", "/var/log/neutron"):
        os.makedirs(directory, exist_ok=True)
    for nic in plan["nics"]:
        ns.disable_tx_offload(nic)
        ns.set_up(nic)
    if plan["ovs"]:
        # Userspace OVS reads its ports with packet sockets: the kernel still sees every
        # frame on them and, by default, answers ARP for any of the host's addresses on any
        # device (the OVS ends of veths, the NICs in br-ex) with that device's MAC. Peers
        # then send to a MAC the host's stack takes and forwards (or drops). Only answer on
        # the device that has the address, and announce from it.
        run(["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1",
             "net.ipv4.conf.all.arp_announce=2"])
        ovs = OvsDaemon(OVS_RUNDIR, logdir=OVS_LOGDIR, datapath_type="netdev").start()
        for bridge in plan["bridges"]:
            ovs.add_bridge(bridge["name"])
            for nic in bridge["nics"]:
                ovs.add_port(bridge["name"], nic)
            if bridge["address"]:
                ns.add_address(bridge["name"], bridge["address"])
            ns.set_up(bridge["name"])
    for ifname, cidr in plan["addresses"]:
        ns.add_address(ifname, cidr)
    if plan["forwarding"]:
        run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    for destination, via in plan["routes"]:
        ns.add_route(destination, via=via)
    if plan["iptables"]:
        run(["iptables-restore"], input=plan["iptables"])
    return {"host": plan["name"], "ovs": plan["ovs"]}


def start(plan: dict) -> dict:
    """Start each daemon unless its pid file names a live process already."""
    PID_DIR.mkdir(parents=True, exist_ok=True)
    # the caller's environment minus proxies (the lab is closed: controller:9696 is direct)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    pids = {}
    for daemon in plan["daemons"]:
        pidfile = PID_DIR / f"{daemon['name']}.pid"
        old = _read_pid(pidfile)
        if old and Path(f"/proc/{old}").exists():
            pids[daemon["name"]] = old
            continue
        argv = list(daemon["argv"])
        argv[0] = shutil.which(argv[0], path=env["PATH"]) or argv[0]
        os.makedirs(os.path.dirname(daemon["log"]), exist_ok=True)
        with open(daemon["log"], "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    cwd="/", env=env)
        pidfile.write_text(f"{proc.pid}\n")
        pids[daemon["name"]] = proc.pid
    return {"host": plan["name"], "pids": pids}


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _write(path: str, text: str) -> None:
    target = Path(path)
    if target.is_symlink():  # e.g. /etc/resolv.conf -> /run/…: replace the link itself
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def main(argv: list[str] | None = None) -> int:
    step = (argv or sys.argv[1:] or [""])[0]
    plan = json.load(sys.stdin)
    if step == "guests":
        from fermion.lab.guest import create_all

        result = create_all(plan)
    elif step in ("setup", "start"):
        result = {"setup": setup, "start": start}[step](plan)
    else:
        print("usage: python -m fermion.lab.hostside setup|start|guests < plan.json",
              file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
