"""The l3 suite's report: notes and the ``BENCHMARKS.md`` section.

``bench.run --suite l3`` runs ``bench.l3_bench.run_l3_bench`` (phases ``latency`` and
``resync``) and writes the raw numbers to ``bench/results/l3.json``. This module turns the
report into the section between ``<!-- l3:begin -->`` and ``<!-- l3:end -->``;
``--render`` redoes it from the JSON.
"""

from __future__ import annotations

from typing import Any

from bench.l2_report import _load_note, fmt, percentile_row
from bench.l3_bench import command_table
from bench.l3_profile import SPANS
from bench.report import measured_line

# the steps in the order of a pass, each router's parts after "ensure one router"
SPAN_ORDER = {label: i for i, label in enumerate(
    [lb for _m, _p, lb in SPANS if not lb.startswith(" ") and lb != "orphan OVS port sweep"]
    + [lb for _m, _p, lb in SPANS if lb.startswith(" ")] + ["orphan OVS port sweep"])}


def notes_for(phases: dict[str, Any], nproc: int) -> list[str]:
    notes = []
    for name, res in phases.items():
        if "error" in res:
            notes.append(f"The {name} phase failed: {res['error'].splitlines()[0][:300]}")
    lat = phases.get("latency", {})
    for key, what in (("add_subnet", "router add subnet"), ("fip_set", "floating ip set")):
        r = lat.get(key, {})
        if r.get("never"):
            notes.append(f"{what}: {r['never']} of {r['n']} samples never got an echo reply "
                         "within the timeout; the percentiles leave them out.")
    for what, load in (("router add subnet", lat.get("add_subnet", {}).get("machine_load")),
                       ("floating ip set", lat.get("fip_set", {}).get("machine_load")),
                       ("the resync passes", phases.get("resync", {}).get("machine_load"))):
        if (note := _load_note(what, load, nproc)) is not None:
            notes.append(note)
    return notes


def finish(report: dict[str, Any]) -> None:
    report["notes"] = notes_for(report["phases"], report["machine"]["nproc"])


# -- markdown ----------------------------------------------------------------------------

def _latency_lines(lat: dict[str, Any]) -> list[str]:
    a, b = lat.get("add_subnet", {}), lat.get("fip_set", {})
    agents = lat.get("agents", {})
    lines = [
        "",
        f"**API write → traffic** ({lat.get('samples')} samples each, one after another). "
        "Network node `net`: `" + agents.get("l2-net", "fermion agent l2") + "` and `"
        + agents.get("l3-net", "fermion agent l3") + "`; compute node `cmp`: `"
        + agents.get("l2-cmp", "fermion agent l2") + "`; VXLAN underlay between them; the "
        "external segment carries the external host 172.24.4.1. All agents are daemons with "
        "their default intervals. One router with its gateway set; per sample (a) a new "
        "tenant subnet with an instance on `cmp` (its port ACTIVE first), a probe in the "
        "instance pinging the external host every "
        f"{lat.get('probe_interval_ms', 10)} ms (ARP retransmit 10 ms), then `PUT "
        "/v2.0/routers/{id}/add_router_interface`; (b) a floating IP created unassociated "
        "before, the probe on the external host pinging it, then `PUT "
        "/v2.0/floatingips/{id}` with that instance's `port_id`. Times run from sending the "
        "PUT to the first echo reply; also to the L3 agent's log line for the router "
        "(written when its pass has finished the router) and, for (a), to the interface "
        "port's `ACTIVE` in the API. Before each sample the agents had used no CPU for "
        f"{lat.get('settle_s', 1.0):g} s (the previous change's passes had ended). "
        "Interfaces and floating IPs stay: the router ends with "
        f"{lat.get('samples')} of each, and every change is a pass over the whole router.",
        "",
        "| from sending the PUT to … | n | p50 | p90 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        percentile_row("(a) router add subnet → instance pings the external host (SNAT)",
             a.get("ping_ms")),
        percentile_row("(a) router add subnet → the L3 agent's pass finished the router (its log)",
             a.get("l3_applied_ms")),
        percentile_row("(a) router add subnet → interface port ACTIVE in the API", a.get("active_ms")),
        percentile_row("(a) … the PUT's own response", a.get("api_ms")),
        percentile_row("(a) → ping, first 10% of samples", a.get("ping_first_tenth_ms")),
        percentile_row("(a) → ping, last 10% of samples", a.get("ping_last_tenth_ms")),
        percentile_row("(b) floating ip set → the external host pings the instance (DNAT)",
             b.get("ping_ms")),
        percentile_row("(b) floating ip set → the L3 agent's pass finished the router (its log)",
             b.get("l3_applied_ms")),
        percentile_row("(b) … the PUT's own response", b.get("api_ms")),
        percentile_row("(b) → ping, first 10% of samples", b.get("ping_first_tenth_ms")),
        percentile_row("(b) → ping, last 10% of samples", b.get("ping_last_tenth_ms")),
    ]
    if "l3_agent_cpu_s" in lat:
        lines += ["", f"The L3 agent used {lat['l3_agent_cpu_s']:.1f} s of CPU (with its "
                  "children) over both series."]
    return lines


def _resync_lines(rs: dict[str, Any]) -> list[str]:
    passes = rs["passes"]
    made = rs.get("made", {})
    lines = [
        "",
        f"**Resync** ({rs['routers']} routers on one host, each with its gateway on a flat "
        f"external network, one interface on its own tenant subnet and "
        f"{rs['fips_per_router']} floating IPs on unplugged ports of that subnet; "
        f"`{rs['agent_command']}` run under `bench.l3_profile`, which calls the same "
        "`fermion.cli.main` and times every command the agent runs; wall time of the whole "
        "command; CPU = the agent with its children):",
        "",
        "| pass | wall | agent CPU | commands run | time in commands | routers changed |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (("cold", "cold: nothing made yet"), ("no_change", "no change")):
        p = passes.get(key)
        if not p:
            continue
        prof = p.get("profile", {})
        lines.append(f"| {label} | {fmt(p['wall_s'], 's')} | {fmt(p['cpu_s'], 's')} | "
                     f"{prof.get('commands_run', 0):,} | {fmt(prof.get('commands_s'), 's')} | "
                     f"{p['routers_changed']} |")
    if made:
        lines += ["", f"Made by the cold pass: {made.get('namespaces')} namespaces, "
                  f"{made.get('ovs_ports')} `qr-`/`qg-` ports on br-int, "
                  f"{made.get('haproxy')} haproxy daemons running, "
                  f"{passes.get('cold', {}).get('fips_added', 0):,} floating IP addresses "
                  f"(one router: {made.get('fip_addresses_in_one')} on `qg-`, "
                  f"{made.get('nat_rules_in_one')} nat rules); "
                  f"{passes.get('cold', {}).get('profile', {}).get('background_run', 0):,} "
                  "`arping` processes started in the background."]
    for key, label in (("cold", "cold pass"), ("no_change", "no-change pass")):
        p = passes.get(key)
        if not p or "profile" not in p:
            continue
        prof, wall = p["profile"], p["wall_s"]
        lines += ["", f"Where the {label}'s {fmt(wall, 's')} go — external commands by kind "
                  "(`[ns]`: inside a router namespace), then the steps of the pass "
                  "(indented: parts of \"ensure one router\"):", "",
                  "| command | runs | total | mean | max | share of wall |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in command_table(prof, wall, top=8 if key == "cold" else 5):
            lines.append(f"| `{r['kind']}` | {r['count']:,} | {fmt(r['total_s'], 's')} | "
                         f"{fmt(r['mean_ms'], 'ms')} | {fmt(r['max_ms'], 'ms')} | "
                         f"{100 * r['share']:.0f}% |")
        lines += ["", "| step | calls | total | share of wall |", "| --- | ---: | ---: | ---: |"]
        start = max(0.0, wall - prof.get("main_s", 0.0))
        lines.append(f"| start-up: Python, imports (all but `cli.main`) | 1 | "
                     f"{fmt(start, 's')} | {100 * start / wall:.0f}% |")
        spans = prof.get("spans", {})
        for label_ in sorted(spans, key=lambda k: SPAN_ORDER.get(k, len(SPAN_ORDER))):
            s = spans[label_]
            name = label_.strip()
            indent = "↳ " if label_.startswith(" ") else ""
            lines.append(f"| {indent}{name} | {s['count']:,} | {fmt(s['total_s'], 's')} | "
                         f"{100 * s['total_s'] / wall:.0f}% |")
    return lines


def markdown_section(report: dict[str, Any]) -> str:
    ph = report["phases"]
    lat, rs = ph.get("latency", {}), ph.get("resync", {})
    server = next((r["server"] for r in (lat, rs) if "server" in r), "fermion")
    lines = [
        "## L3 agent: API write to traffic, resync of many routers",
        "",
        measured_line(report),
        "",
        f"Each phase gets a fresh Fermion server (`{server}`; ML2 + router, noauth, SQLite) "
        "and fresh simulated hosts (a namespace with its own userspace OVS, "
        "`datapath_type=netdev`, `fermion.lab.host`); routers are legacy (`qrouter-` "
        "namespaces, iptables, haproxy metadata proxy).",
    ]
    if lat and "error" not in lat:
        lines += _latency_lines(lat)
    if rs and "error" not in rs:
        lines += _resync_lines(rs)
    lines += ["", f"Raw numbers: `{report['json']}`."]
    if report["notes"]:
        lines += [""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"
