"""What `lab up` prints at the end and `lab status` prints any time: hosts and their daemons,
agents, instances with their addresses, the API endpoint and the smoke table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fermion.lab.client import Api, ApiError
from fermion.lab.live import LiveLab

AGENT_SHORT = {"Open vSwitch agent": "L2", "DHCP agent": "DHCP", "L3 agent": "L3",
               "Metadata agent": "metadata", "Compute agent": "compute"}


def hosts_table(live: LiveLab) -> Table:
    table = Table(title=f"lab {live.topo.name}: hosts", title_justify="left")
    for column in ("host", "roles", "management", "daemons (pid in the host)"):
        table.add_column(column)
    mgmt = live.topo.management.name
    for host in live.topo.hosts:
        iface = host.on(mgmt)
        alive = live.capsule(host.name) is not None
        daemons = ", ".join(f"{name} {pid}" if pid else f"[red]{name} dead[/]"
                            for name, pid in live.host_pids(host.name).items())
        table.add_row(host.name if alive else f"[red]{host.name} (gone)[/]",
                      ", ".join(host.roles), iface.ip if iface else "-", daemons or "-")
    return table


def agents_table(api: Api) -> Table:
    table = Table(title="agents", title_justify="left")
    for column in ("host", "agent", "binary", "alive"):
        table.add_column(column)
    for a in sorted(api.get("/v2.0/agents")["agents"], key=lambda a: (a["host"],
                                                                         a["agent_type"])):
        table.add_row(a["host"], AGENT_SHORT.get(a["agent_type"], a["agent_type"]),
                      a["binary"], "[green]:-)[/]" if a["alive"] else "[red]XXX[/]")
    return table


def instances_table(live: LiveLab) -> Table:
    table = Table(title="instances", title_justify="left")
    for column in ("instance", "host", "network", "address", "floating IP", "MTU"):
        table.add_column(column)
    for inst in live.state.get("resources", {}).get("instances", {}).values():
        table.add_row(inst["name"], inst["host"], inst["network"], inst["ip"],
                      inst["floating_ip"] or "", str(inst["mtu"]))
    return table


def resources_line(api: Api) -> str:
    counts = []
    for collection in ("networks", "subnets", "ports", "routers", "floatingips",
                       "security-groups"):
        key = collection.replace("-", "_")
        counts.append(f"{len(api.get(f'/v2.0/{collection}')[key])} {collection}")
    return ", ".join(counts)


def smoke_table(rows: list) -> Table:
    table = Table(title="smoke checks", title_justify="left")
    for column in ("", "check", "result", "reproduce"):
        table.add_column(column, overflow="fold")
    for row in rows:
        get = row.get if isinstance(row, dict) else row.__dict__.get
        table.add_row("[green]PASS[/]" if get("ok") else "[red]FAIL[/]", get("title"),
                      get("detail"), get("command"))
    return table


def summary(console: Console, live: LiveLab, api: Api, rows: list | None = None) -> None:
    console.print(hosts_table(live))
    try:
        console.print(agents_table(api))
        console.print(f"resources: {resources_line(api)}")
    except (ApiError, OSError, Exception) as exc:  # the API may be down: say so, go on
        console.print(f"[red]the API at {api.url} does not answer: {exc}[/]")
    console.print(instances_table(live))
    console.print(f"API: {api.url}   try: eval \"$(fermion lab openrc)\"; "
                  "openstack network list")
    rows = rows if rows is not None else live.state.get("smoke", [])
    if rows:
        console.print(smoke_table(rows))
