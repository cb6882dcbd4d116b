"""The l2 suite's report: targets, notes and the ``BENCHMARKS.md`` section.

``bench.run --suite l2`` runs ``bench.l2_bench.run_l2_bench`` (phases ``active``,
``resync``, ``throughput``) and writes the raw numbers to ``bench/results/l2.json``. This
module checks them against issue 5's targets and turns the report into the section between
``<!-- l2:begin -->`` and ``<!-- l2:end -->``; ``--render`` redoes it from the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.proc import BUSY_CORES
from bench.report import measured_line


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    path: tuple[str, ...]  # where the value is in report["phases"]
    limit: float
    below: bool  # the target is value < limit (else value > limit)
    unit: str


TARGETS = (
    Target("active_p99", "port create + plug → ACTIVE, p99", ("active", "active_ms", "p99"),
           1000.0, True, "ms"),
    Target("ping_p99", "port create + plug → ping answered, p99", ("active", "ping_ms", "p99"),
           1000.0, True, "ms"),
    Target("resync", "resync, 1,000 ports (cold `--once` pass)",
           ("resync", "passes", "cold", "wall_s"), 10.0, True, "s"),
    Target("resync_no_change", "resync, 1,000 ports (no-change `--once` pass)",
           ("resync", "passes", "no_change", "wall_s"), 10.0, True, "s"),
    Target("throughput", "throughput ratio, pipeline ÷ bare NORMAL bridge (one host)",
           ("throughput", "one_host", "ratio"), 0.7, False, "×"),
)


def value(node: Any, path: tuple[str, ...]) -> float | None:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, int | float) and not isinstance(node, bool) else None


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "×":
        return f"{v:.2f}×"
    digits = 2 if abs(v) < 10 else 1 if abs(v) < 100 else 0
    return f"{v:,.{digits}f} {unit}"


def percentile_row(label: str, s: dict[str, Any] | None) -> str:
    """A markdown row: label, n, then p50/p90/p99/max in ms of a ``summary_ms`` dict."""
    s = s or {}
    return (f"| {label} | {s.get('n', 0)} | "
            + " | ".join(fmt(s.get(k), "ms") for k in ("p50", "p90", "p99", "max")) + " |")


def verdicts(phases: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target: its value, the limit and whether it is met (None: not measured)."""
    out = {}
    for t in TARGETS:
        v = value(phases, t.path)
        if (v is not None and t.key.startswith("resync")
                and value(phases, ("resync", "ports")) != 1000):
            met = None  # measured at another size: no verdict
        else:
            met = None if v is None else (v < t.limit if t.below else v > t.limit)
        out[t.key] = {"value": v, "limit": t.limit, "met": met}
    return out


def _load_note(what: str, load: dict[str, Any] | None, nproc: int) -> str | None:
    if not load:
        return None
    parts = [f"{k[:-6].replace('_', ' ')} {v:.2f}" for k, v in load.items()
             if k.endswith("_cores") and k != "other_processes_cores"]
    busy = load.get("other_processes_cores", 0.0)
    return (f"Machine load during {what}: other processes used {busy:.2f} of the {nproc} CPUs "
            f"on average ({', '.join(parts)}); 1-minute load average "
            f"{load.get('loadavg_1m_before')} → {load.get('loadavg_1m_after')}."
            + (" Enough to inflate wall-clock times." if busy >= BUSY_CORES else ""))


def notes_for(phases: dict[str, Any], nproc: int) -> list[str]:
    notes = []
    for name, res in phases.items():
        if "error" in res:
            notes.append(f"The {name} phase failed: {res['error'].splitlines()[0][:300]}")
    act = phases.get("active", {})
    if act.get("never_active") or act.get("never_pinged"):
        notes.append(f"{act.get('never_active', 0)} ports never became ACTIVE and "
                     f"{act.get('never_pinged', 0)} never answered a ping within the "
                     "per-port timeout; the percentiles leave them out.")
    for what, load in (("ports → ACTIVE", act.get("machine_load")),
                       ("the resync passes", phases.get("resync", {}).get("machine_load")),
                       ("iperf3 on one host",
                        phases.get("throughput", {}).get("one_host", {}).get("machine_load")),
                       ("iperf3 over VXLAN",
                        phases.get("throughput", {}).get("vxlan", {}).get("machine_load"))):
        if (note := _load_note(what, load, nproc)) is not None:
            notes.append(note)
    cold = phases.get("resync", {}).get("passes", {}).get("cold")
    busy = phases.get("resync", {}).get("machine_load", {}).get("other_processes_cores", 0)
    if cold and busy >= BUSY_CORES:
        nc = phases["resync"]["passes"]["no_change"]
        notes.append(f"The resync's wall times include waiting for a CPU while other "
                     f"processes used {busy:.2f} of the {nproc}: the agent itself used "
                     f"{cold['cpu_s']:.1f} s of CPU in the cold pass and {nc['cpu_s']:.1f} s "
                     "in the no-change pass (the rest is ovs-vswitchd applying or dumping "
                     "flows, and the run queue).")
    one = phases.get("throughput", {}).get("one_host", {})
    if one.get("gbps"):
        runs = [x for v in one["gbps"].values() for x in v]
        if runs and max(runs) > 1.5 * min(runs):
            notes.append(f"iperf3 on one host varied from {min(runs):.2f} to {max(runs):.2f} "
                         "Gbit/s between runs of the same path, more than the difference "
                         "between the paths: the ratio is within the noise of this machine.")
    for key in ("one_host", "vxlan"):
        retries = phases.get("throughput", {}).get(key, {}).get("retries")
        if retries:
            notes.append(f"iperf3 ({key}): {len(retries)} client runs were retried, e.g. "
                         f"{retries[0][:160]}")
    return notes


def finish(report: dict[str, Any]) -> None:
    report["targets"] = verdicts(report["phases"])
    report["notes"] = notes_for(report["phases"], report["machine"]["nproc"])


# -- markdown ----------------------------------------------------------------------------

def _met(v: dict[str, Any]) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[v["met"]]


def markdown_section(report: dict[str, Any]) -> str:
    ph, cfg = report["phases"], report["config"]
    act, rs, tp = ph.get("active", {}), ph.get("resync", {}), ph.get("throughput", {})
    server = next((r["server"] for r in (act, rs, tp) if "server" in r), "fermion")
    lines = [
        "## L2 agent: port to ACTIVE, resync, throughput",
        "",
        measured_line(report),
        "",
        f"Each phase gets a fresh Fermion server (`{server}`; ML2, noauth, SQLite) and fresh "
        "simulated hosts (a namespace with its own userspace OVS, `datapath_type=netdev`, "
        "`fermion.lab.host`). Ports' security group: "
        + ("one allowing ingress from the subnet's prefix (no remote group)"
           if cfg["sg"] == "prefix" else "the project's default group (remote group)") + ".",
        "",
        "| target | measured | limit | |",
        "| --- | ---: | ---: | --- |",
    ]
    for t in TARGETS:
        v = report["targets"][t.key]
        limit = ("< " if t.below else "> ") + fmt(t.limit, t.unit)
        lines.append(f"| {t.label} | {fmt(v['value'], t.unit)} | {limit} | {_met(v)} |")

    if "error" not in act and act:
        lines += [
            "",
            f"**Port → ACTIVE and traffic** ({act['ports']} ports, one after another, on one "
            f"host with a running agent: `{_short_agent(act['agent_command'])}`, "
            f"poll interval {act['poll_interval_s']:g} s; besides the timer, change-feed "
            "events and OVSDB Interface changes wake it). Per port: `POST /v2.0/ports` with "
            "`binding:host_id`, plug an instance namespace as os-vif does (veth on br-int, "
            "external_ids iface-id), then poll `GET` every 10 ms for ACTIVE while a probe in "
            "the instance pings an instance plugged before (an echo every 10 ms, ARP "
            "retransmit 10 ms). Times run from sending the POST; instances stay plugged, so "
            f"the host fills up to {act['ports'] + 1} ports.",
            "",
            "| | p50 | p90 | p99 | max |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for key, label in (("create_ms", "POST /v2.0/ports"),
                           ("plug_ms", "plug (namespace, veth, ovs-vsctl add-port)"),
                           ("active_ms", "→ ACTIVE in the API"),
                           ("ping_ms", "→ ping answered"),
                           ("active_after_plug_ms", "→ ACTIVE, from the end of the plug"),
                           ("ping_after_plug_ms", "→ ping, from the end of the plug"),
                           ("active_first_tenth_ms", "→ ACTIVE, first 10% of ports"),
                           ("active_last_tenth_ms", "→ ACTIVE, last 10% of ports")):
            s = act.get(key) or {}
            lines.append(f"| {label} | " + " | ".join(
                fmt(s.get(k), "ms") for k in ("p50", "p90", "p99", "max")) + " |")
        lines += ["", f"The agent used {act['agent_cpu_s']:.1f} s of CPU (with its "
                  "`ovs-vsctl`/`ovs-ofctl` children) over the "
                  f"{act['machine_load'].get('wall_s', 0):.0f} s of this phase."]

    if "error" not in rs and rs:
        lines += [
            "",
            f"**Resync** ({rs['ports']:,} ports bound to one host, each plugged as "
            f"{rs['ovs_ports']}; `{_short_agent(rs['agent_command'])}`, wall time of the "
            f"whole command including {rs['startup_s']:.2f} s to start Python and import "
            "the agent; CPU = the agent process):",
            "",
            "| pass | wall | agent CPU | flows added | OVSDB writes |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        rows = [("cold: first pass over the plugged ports", rs, "cold"),
                ("no change", rs, "no_change"),
                ("flows lost (del-flows br-int, br-tun first)", rs, "flows_lost")]
        dsg = rs.get("default_sg")
        if dsg and "error" not in dsg:
            n = dsg["ports"]
            rows += [(f"default security group, {n} ports: cold", dsg, "cold"),
                     (f"default security group, {n} ports: no change", dsg, "no_change")]
        for label, res, key in rows:
            p = res["passes"][key]
            lines.append(f"| {label} | {fmt(p['wall_s'], 's')} | {fmt(p['cpu_s'], 's')} | "
                         f"{p['flows_added']:,} | {p['ovs_changes']:,} |")
        lines += ["", f"br-int holds {rs['flows_br_int']:,} flows with {rs['ports']:,} ports "
                  f"({rs['flows_br_int'] / max(rs['ports'], 1):.0f} per port)"
                  + (f"; with the default group and {dsg['ports']} ports, "
                     f"{dsg['flows_br_int']:,} ({dsg['flows_br_int'] / dsg['ports']:.0f} per "
                     "port: the remote-group rule expands to one flow per member address, so "
                     "the count grows with the square of the ports)"
                     if dsg and "error" not in dsg else "")
                  + f". {rs['active_after']:,} ports ACTIVE afterwards."]
        if dsg and "error" in dsg:
            lines += ["", f"The default-group resync failed: {dsg['error'][:200]}"]

    if "error" not in tp and tp:
        lines += [
            "",
            f"**Throughput** ({tp['tool']}; {tp['iperf3']}). Pipeline: two instances through "
            "br-int with the agent's flows (port security, the security group with "
            "conntrack). Bare: the same two namespaces over a second veth each on a bridge "
            "of the same ovs-vswitchd (`datapath_type=netdev`) with one flow, "
            "`actions=NORMAL`. Runs alternate (ABBA); the ratio is of the medians.",
            "",
            "| path | pipeline | bare NORMAL | ratio | runs (pipeline; bare) |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for key, label in (("one_host", "two instances on one host"),
                           ("vxlan", "two hosts over userspace VXLAN")):
            r = tp.get(key)
            if not r:
                continue
            if key == "vxlan":
                label += (f" (MTU {r.get('mtu')}; bare = a bridge pair joined by a VXLAN "
                          "port, fixed key, over the same underlay)")
            med, runs = r["median_gbps"], r["gbps"]
            lines.append(
                f"| {label} | {med['pipeline']:.2f} Gbit/s | {med['bare']:.2f} Gbit/s | "
                f"{fmt(r['ratio'], '×')} | "
                f"{', '.join(f'{x:.2f}' for x in runs['pipeline'])}; "
                f"{', '.join(f'{x:.2f}' for x in runs['bare'])} |")
    lines += ["", f"Targets from issue 5. Raw numbers: `{report['json']}`."]
    if report["notes"]:
        lines += [""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def _short_agent(command: str) -> str:
    """The agent command without its per-run paths and URL."""
    words, out, skip = command.split(), [], False
    for w in words:
        if skip:
            skip = False
            continue
        if w in ("--server", "--ovs-rundir"):
            skip = True
            continue
        out.append(w)
    return " ".join(out)
