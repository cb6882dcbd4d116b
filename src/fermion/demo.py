"""``make demo``: the seed's demo networks, created through the real ``openstack`` CLI.

Starts ``fermion server`` on SQLite (under ``var/demo``), then runs the blog's commands:
a shared external flat network on ``physnet``, a VLAN network with segmentation id 100,
a VXLAN tenant network (VNI from ``vni_ranges``, MTU 1450), their subnets with DNS servers,
an allocation pool and a host route, and a few ports; prints what the CLI shows.
Until the lab exists this is the main job; ``--keep`` leaves the server running.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = Console()

NEUTRON_CONF = """[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
auth_strategy = noauth

[database]
connection = sqlite:///{state}/fermion.sqlite
"""

ML2_CONF = """[ml2]
type_drivers = local,flat,vlan,vxlan
tenant_network_types = vxlan

[ml2_type_flat]
flat_networks = physnet

[ml2_type_vlan]
network_vlan_ranges = physnet:100:200

[ml2_type_vxlan]
vni_ranges = 1:1000
"""

# (description, openstack CLI arguments) — the seed's commands, in order.
STEPS: list[tuple[str, list[str]]] = [
    ("flat provider network (external, shared)",
     ["network", "create", "--share", "--external", "--provider-network-type", "flat",
      "--provider-physical-network", "physnet", "flat-network"]),
    ("flat subnet with allocation pool and DNS",
     ["subnet", "create", "--dhcp", "--subnet-range", "172.16.0.0/24", "--network",
      "flat-network", "--allocation-pool", "start=172.16.0.100,end=172.16.0.200",
      "--gateway", "172.16.0.1", "--dns-nameserver", "8.8.8.8", "flat-subnet"]),
    ("VLAN network, segmentation id 100",
     ["network", "create", "--provider-network-type", "vlan", "--provider-physical-network",
      "physnet", "--provider-segment", "100", "vlan-network"]),
    ("VLAN subnet",
     ["subnet", "create", "--subnet-range", "192.168.100.0/24", "--network", "vlan-network",
      "vlan-subnet"]),
    ("VXLAN tenant network (VNI from vni_ranges)", ["network", "create", "vxlan-network"]),
    ("VXLAN subnet with DNS server and host route",
     ["subnet", "create", "--subnet-range", "10.0.0.0/24", "--network", "vxlan-network",
      "--dns-nameserver", "10.0.0.2", "--host-route", "destination=10.9.0.0/16,gateway=10.0.0.5",
      "vxlan-subnet"]),
    ("DHCP port on the VXLAN network",
     ["port", "create", "--network", "vxlan-network", "--device-owner", "network:dhcp",
      "dhcp-vxlan"]),
    ("instance port on the VXLAN network",
     ["port", "create", "--network", "vxlan-network", "--device", "demo-instance-1",
      "--device-owner", "compute:nova", "demo-instance-1-port"]),
    ("add a DNS server to the flat subnet",
     ["subnet", "set", "--dns-nameserver", "1.1.1.1", "flat-subnet"]),
    ("tag the VXLAN network", ["network", "set", "--tag", "demo", "vxlan-network"]),
]


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


def _openstack(url: str, args: list[str], fmt: bool = True) -> object:
    cli = shutil.which("openstack", path=str(Path(sys.executable).parent)) or "openstack"
    cmd = [cli, "--os-auth-type", "none", "--os-endpoint", url, *args]
    if fmt:
        cmd += ["-f", "json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`openstack {' '.join(args)}` failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout) if fmt and done.stdout.strip() else None


def _start_server(state: Path, port: int) -> subprocess.Popen:
    state.mkdir(parents=True, exist_ok=True)
    for leftover in state.glob("fermion.sqlite*"):
        leftover.unlink()
    (state / "neutron.conf").write_text(NEUTRON_CONF.format(port=port, state=state))
    (state / "ml2_conf.ini").write_text(ML2_CONF)
    log = open(state / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "fermion.cli", "server", "--config-file",
         str(state / "neutron.conf"), "--config-file", str(state / "ml2_conf.ini")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: see {state / 'server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not answer in 30 s: see {state / 'server.log'}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _show(url: str) -> None:
    networks = _openstack(url, ["network", "list", "--long"])
    table = Table(title="openstack network list --long")
    for column in ("Name", "Type", "Router Type", "Shared", "MTU"):
        table.add_column(column)
    for net in networks:
        d = _openstack(url, ["network", "show", net["ID"]])
        table.add_row(d["name"], f"{d['provider:network_type']} "
                      f"{d['provider:physical_network'] or ''} "
                      f"{d['provider:segmentation_id'] or ''}".strip(),
                      "External" if d["router:external"] else "Internal",
                      str(d["shared"]), str(d["mtu"]))
    CONSOLE.print(table)
    subnets = _openstack(url, ["subnet", "list"])
    table = Table(title="openstack subnet list")
    for column in ("Name", "Subnet", "Network"):
        table.add_column(column)
    for sub in subnets:
        table.add_row(sub["Name"], sub["Subnet"], sub["Network"])
    CONSOLE.print(table)
    ports = _openstack(url, ["port", "list", "--long"])
    table = Table(title="openstack port list --long")
    for column in ("Name", "MAC Address", "Fixed IP Addresses", "Device Owner", "Status"):
        table.add_column(column)
    for port in ports:
        ips = ", ".join(f["ip_address"] for f in port["Fixed IP Addresses"])
        table.add_row(port["Name"], port["MAC Address"], ips, port["Device Owner"],
                      port["Status"])
    CONSOLE.print(table)
    dhcp = _openstack(url, ["port", "list", "--device-owner", "network:dhcp", "--network",
                            "vxlan-network"])
    CONSOLE.print(f"port list --device-owner network:dhcp --network vxlan-network: "
                  f"{[p['Name'] for p in dhcp]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fermion.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true",
                        help="leave the server running (Ctrl-C stops it)")
    parser.add_argument("--state-dir", default=str(ROOT / "var" / "demo"),
                        help="where the config, database and log go (default: var/demo)")
    parser.add_argument("--port", type=int, default=9696, help="preferred API port")
    args = parser.parse_args(argv)
    port = _free_port(args.port)
    url = f"http://127.0.0.1:{port}"
    with CONSOLE.status("starting fermion server on SQLite ..."):
        proc = _start_server(Path(args.state_dir).resolve(), port)
    CONSOLE.print(f"[green]fermion server[/] is up at {url} (log: {args.state_dir}/server.log)")
    try:
        for index, (what, cli_args) in enumerate(STEPS, 1):
            with CONSOLE.status(f"[{index}/{len(STEPS)}] {what}"):
                _openstack(url, cli_args, fmt=cli_args[1] != "set")
            CONSOLE.print(f"[{index}/{len(STEPS)}] {what}: openstack {' '.join(cli_args)}")
        _show(url)
        CONSOLE.print(f"\nTry it yourself:  openstack --os-auth-type none --os-endpoint {url} "
                      "network list")
        if args.keep:
            CONSOLE.print("Server keeps running; Ctrl-C to stop.")
            proc.wait()
    except KeyboardInterrupt:
        pass
    except RuntimeError as error:
        CONSOLE.print(f"[red]demo failed:[/] {error}")
        return 1
    finally:
        _stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
