"""The sg suite: security groups with remote-group rules at scale, through the L2 agent.

``ports`` ports on one host in ``groups`` security groups (port k in group k mod
``groups``). Each group has a project's default group's rules — ingress IPv4 and IPv6 from
the group itself (``remote_group_id`` = the group), egress anywhere — plus ingress TCP
``tcp_port`` from the group itself. Ports are plugged as OVS internal ports and the real
``fermion agent l2 --once`` runs as in the l2 suite's resync (cold, no change, flows lost;
``bench.l2.resync``); then one port joins group 0 and leaves it again, one pass each, to
show what a member costs the other members' flows. Reported: wall and agent CPU per pass,
flows added/deleted, br-int's flows per port, those in the rule tables (72, 82) per port.
Target (issue 11): the resync under 10 s, as for plain ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench import harness as h
from bench import l2
from bench.harness import Reporter, Suite, fmt, knob
from bench.lab import Lab, short_command
from fermion.lab.host import Host

RULE_TABLES = (72, 82)


@dataclass
class SgConfig:
    """remote-group security groups through the L2 agent; needs root"""

    ports: int = knob(1000, "ports on the host, spread over the groups")
    groups: int = knob(10, "security groups, each with remote-group rules naming itself")
    tcp_port: int = knob(22, "each group also lets in this TCP port from itself")


def flows_by_table(host: Host, bridge: str = "br-int") -> dict[str, int]:
    out: dict[str, int] = {}
    for line in host.ovs.ofctl(bridge, "dump-flows").splitlines():
        if "cookie=" in line and (at := line.find(" table=")) >= 0:
            table = line[at + 7:].split(",", 1)[0]
            out[table] = out.get(table, 0) + 1
    return out


def remote_group(lab: Lab, name: str, tcp_port: int) -> str:
    """A group with the default group's rules and TCP ``tcp_port``, all from itself."""
    sg = lab.api.post("/v2.0/security-groups", {"security_group": {"name": name}})["id"]
    for rule in ({"ethertype": "IPv4"}, {"ethertype": "IPv6"},
                 {"ethertype": "IPv4", "protocol": "tcp", "port_range_min": tcp_port,
                  "port_range_max": tcp_port}):
        lab.api.post("/v2.0/security-group-rules", {"security_group_rule": {
            "security_group_id": sg, "direction": "ingress", "remote_group_id": sg, **rule}})
    return sg


def phase_resync(cfg: SgConfig, rep: Reporter) -> dict[str, Any]:
    with Lab(rep.log) as lab:
        host = lab.add_host("s1")
        net, _subnet = lab.network("sgb", "10.65.0.0/16")
        groups = [remote_group(lab, f"sgb-{g}", cfg.tcp_port) for g in range(cfg.groups)]
        bodies = [l2.port_body(net, host.name, groups[k % cfg.groups], f"s-{k}")
                  for k in range(cfg.ports)]
        out = l2.resync(lab, host, bodies, rep) | {"groups": cfg.groups}
        tables = flows_by_table(host)
        out["rule_flows"] = sum(tables.get(str(t), 0) for t in RULE_TABLES)
        out["flows_by_table"] = tables
        joiner = l2.add_ports(lab, host, [l2.port_body(net, host.name, groups[0], "joiner")],
                              rep, {}, start=cfg.ports)[0]
        out["passes"]["join"] = l2.once(lab, host)
        lab.api.expect("DELETE", f"/v2.0/ports/{joiner['id']}")
        host.ovs.del_port(f"rp{cfg.ports}")
        out["passes"]["leave"] = l2.once(lab, host)
        rep.log(f"[sg] join: {out['passes']['join']}; leave: {out['passes']['leave']}")
        return out


def run(cfg: SgConfig, rep: Reporter) -> dict[str, Any]:
    return {"phases": h.run_phases("security groups", {"resync": phase_resync}, cfg, rep)}


PASSES = (("cold", "cold: first pass over the plugged ports"), ("no_change", "no change"),
          ("flows_lost", "flows lost (del-flows br-int, br-tun first)"),
          ("join", "one port joins the first group"), ("leave", "that port leaves"))
TARGETS = (
    ("resync", "resync, 1,000 ports in 10 remote groups (cold `--once` pass)",
     ("resync", "passes", "cold", "wall_s"), 10.0, True, "s"),
    ("resync_no_change", "resync, 1,000 ports in 10 remote groups (no-change `--once` pass)",
     ("resync", "passes", "no_change", "wall_s"), 10.0, True, "s"),
)


def finish(report: dict[str, Any]) -> None:
    phases = report["phases"]
    report["targets"] = l2.verdicts(phases, TARGETS)
    report["notes"] = h.failed_notes(phases) + h.load_note(
        "the passes", phases.get("resync", {}).get("machine_load"), report["machine"]["nproc"])


def section(report: dict[str, Any]) -> str:
    t, cfg, rs = h.texts("sg"), report["config"], report["phases"].get("resync", {})
    lines = [t["head"].format(measured=h.measured_line(report), **cfg)]
    if rs and "error" not in rs:
        n = rs["ports"]
        lines += ["", t["setup"].format(**cfg | rs, per_group=n // rs["groups"],
                                        agent=short_command(rs["agent_command"])),
                  *l2.target_lines(TARGETS, report["targets"]), "",
                  *h.table(["pass", "wall", "agent CPU", "flows added", "flows deleted",
                          "OVSDB writes"], [
                      (label, fmt(p["wall_s"], "s"), fmt(p["cpu_s"], "s"),
                       f"{p['flows_added']:,}", f"{p['flows_deleted']:,}", f"{p['ovs_changes']:,}")
                      for key, label in PASSES if (p := rs["passes"].get(key))]),
                  "", t["flows"].format(flows=rs["flows_br_int"], ports=n,
                                        per_port=rs["flows_br_int"] / n,
                                        rule_flows=rs["rule_flows"],
                                        rule_per_port=rs["rule_flows"] / n,
                                        active=rs["active_after"])]
    return "\n".join(lines + h.tail(report, t["tail"])) + "\n"


SUITE = Suite("sg", SgConfig, run, finish, section)
