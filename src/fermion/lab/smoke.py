"""The smoke table: does the lab's data plane do what the seed shows? One row per check, PASS
or FAIL, each with the command that reproduces it (``fermion lab exec …``).

  DHCP lease and MTU   every instance has its port's address and its network's MTU on eth0
  across hosts         an instance pings one on another compute host (VXLAN or VLAN)
  SNAT                 an instance without floating IP pings labhost, and the router's
                       conntrack shows the reply going to the router's gateway address
  floating IP          labhost pings each floating IP
  provider network     an instance on a network without a router (flat) pings labhost

Pings are retried for a while (the first packet may still be learning its way); the row
reports the first answer.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from fermion.lab.live import LiveLab, shown

PING_WAIT = 20.0


@dataclass
class Row:
    title: str
    command: str
    ok: bool = False
    detail: str = ""


def lease_row(live: LiveLab, inst: dict) -> Row:
    argv = ["ip", "-4", "addr", "show", "dev", "eth0"]
    row = Row(f"DHCP lease and MTU: {inst['name']} ({inst['host']})", shown(inst["name"], argv))
    prefix = inst["cidr"].split("/")[1]
    want = f"{inst['ip']}/{prefix}"
    out = live.exec_in(inst["name"], argv).stdout
    mtu = re.search(r"\bmtu (\d+)", out)
    has = re.search(r"\binet (\S+)", out)
    row.detail = f"{has.group(1) if has else 'no address'}, mtu {mtu.group(1) if mtu else '?'}"
    row.ok = bool(has and has.group(1) == want and mtu and int(mtu.group(1)) == inst["mtu"])
    if not row.ok:
        row.detail += f" (want {want}, mtu {inst['mtu']})"
    return row


def ping(live: LiveLab, source: str, address: str, title: str) -> Row:
    argv = ["ping", "-c1", "-W1", address]
    row = Row(title, shown(source, argv))
    began = time.monotonic()
    while True:
        done = live.exec_in(source, argv)
        if done.returncode == 0:
            rtt = re.search(r"time=([\d.]+ ms)", done.stdout)
            row.ok, row.detail = True, f"reply{' in ' + rtt.group(1) if rtt else ''}"
            return row
        if time.monotonic() - began > PING_WAIT:
            row.detail = f"no reply in {PING_WAIT:.0f} s"
            return row
        time.sleep(0.2)


def snat_row(live: LiveLab, inst: dict, router: dict, router_host: str, labhost: str) -> Row:
    gw = router["gateway_ip"]
    row = ping(live, inst["name"], labhost,
               f"SNAT: {inst['name']} → labhost {labhost} (source {gw}, the router's gateway)")
    ns = f"qrouter-{router['id']}"
    argv = ["ip", "netns", "exec", ns, "conntrack", "-L", "-p", "icmp", "-s", inst["ip"],
            "-d", labhost]
    row.command += " && " + shown(router_host, argv)
    if not row.ok:
        return row
    out = live.exec_in(router_host, argv).stdout
    replies = re.findall(r"src=\S+ dst=\S+ .*?src=\S+ dst=(\S+)", out)
    row.ok = gw in replies
    row.detail += f"; reply to {', '.join(replies) or 'nothing in conntrack'}"
    return row


def rows_for(live: LiveLab) -> list:
    """The checks for this lab, as (title, thunk) pairs, in table order."""
    made = live.state.get("resources", {})
    instances = list(made.get("instances", {}).values())
    networks = made.get("networks", {})
    routers = list(made.get("routers", {}).values())
    labhost = live.topo.labhost_address()
    routed = {made["subnets"][s]["network"]: r for r in routers if r["gateway_ip"]
              for s in r["subnets"]}
    router_host = live.topo.with_role("network")[0].name
    checks = [lambda i=i: lease_row(live, i) for i in instances]
    for a in instances:
        b = next((b for b in instances if b["network"] == a["network"]
                  and b["host"] != a["host"]), None)
        kind = networks[a["network"]]["type"]
        if b and a["network"] not in [n for n, v in networks.items() if v["type"] == "flat"]:
            kind = "VXLAN" if kind == "tenant" else kind.upper()
            checks.append(lambda a=a, b=b, kind=kind: ping(
                live, a["name"], b["ip"], f"{kind} across hosts: {a['name']} ({a['host']}) "
                                          f"→ {b['name']} ({b['host']})"))
            break
    snat = next((i for i in instances if i["network"] in routed and not i["floating_ip"]),
                None)
    if snat:
        checks.append(lambda: snat_row(live, snat, routed[snat["network"]], router_host,
                                       labhost))
    for inst in instances:
        if inst["floating_ip"]:
            checks.append(lambda i=inst: ping(
                live, live.topo.labhost.name, i["floating_ip"],
                f"floating IP: labhost → {i['floating_ip']} ({i['name']})"))
    flat = next((i for i in instances if i["network"] not in routed), None)
    if flat:
        checks.append(lambda: ping(live, flat["name"], labhost,
                                   f"{flat['network']} (no router): {flat['name']} → "
                                   f"labhost {labhost}"))
    return checks


def run_all(live: LiveLab) -> list[Row]:
    rows = []
    for check in rows_for(live):
        try:
            rows.append(check())
        except Exception as exc:  # a check that cannot run is a FAIL with the reason
            rows.append(Row(getattr(check, "__name__", "check"), "", False, str(exc)))
    live.paths.update(smoke=[r.__dict__ for r in rows])
    return rows
