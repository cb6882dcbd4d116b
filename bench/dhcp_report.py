"""The dhcp suite's report: notes and the ``BENCHMARKS.md`` section.

``bench.run --suite dhcp`` runs ``bench.dhcp_bench.run_dhcp_bench`` (phases ``lease``,
``resync``, ``burst``) and writes the raw numbers to ``bench/results/dhcp.json``. This module
turns the report into the section between ``<!-- dhcp:begin -->`` and ``<!-- dhcp:end -->``;
``--render`` redoes it from the JSON.
"""

from __future__ import annotations

from typing import Any

from bench.dhcp_profile import SPANS
from bench.l2_report import _load_note, fmt, percentile_row
from bench.l3_bench import command_table
from bench.report import measured_line

PASS_LABELS = {"cold": "cold: nothing made yet", "second": "second",
               "no_change": "no change"}
# the steps in the order of a pass; API calls last
SPAN_ORDER = {label: i for i, label in enumerate(
    [lb for _m, _p, lb in SPANS if not lb.startswith("API:")]
    + [lb for _m, _p, lb in SPANS if lb.startswith("API:")])}


def headline_burst(burst: dict[str, Any]) -> dict[str, Any]:
    """The first round (an empty lease table) of the burst phase, or {}."""
    rounds = burst.get("rounds") or []
    return rounds[0] if rounds else {}


def lease_count(lease: dict[str, Any]) -> int:
    """Ports timed in the lease phase (``samples`` is the list of their timings)."""
    if "ports" in lease:
        return int(lease["ports"])
    samples = lease.get("samples", 0)
    return len(samples) if isinstance(samples, list) else int(samples)


def notes_for(phases: dict[str, Any], nproc: int) -> list[str]:
    notes = []
    for name, res in phases.items():
        if "error" in res:
            notes.append(f"The {name} phase failed: {res['error'].splitlines()[0][:300]}")
    lease = phases.get("lease", {})
    if lease.get("never"):
        notes.append(f"port create → lease: {lease['never']} of {lease_count(lease)} samples "
                     "got no lease within the timeout; the percentiles leave them out.")
    for key, p in phases.get("resync", {}).get("passes", {}).items():
        if p.get("errors"):
            notes.append(f"The {PASS_LABELS.get(key, key)} resync pass reported "
                         f"{p['errors']} network errors.")
    for i, r in enumerate(phases.get("burst", {}).get("rounds", []), 1):
        if r.get("wrong_address"):
            notes.append(f"burst round {i}: {r['wrong_address']} clients got an address "
                         "other than their port's.")
    loads = [("port create → lease", lease.get("machine_load")),
             ("the resync passes", phases.get("resync", {}).get("machine_load"))]
    loads += [(f"burst round {i}", r.get("machine_load"))
              for i, r in enumerate(phases.get("burst", {}).get("rounds", []), 1)]
    for what, load in loads:
        if (note := _load_note(what, load, nproc)) is not None:
            notes.append(note)
    return notes


def finish(report: dict[str, Any]) -> None:
    report["notes"] = notes_for(report["phases"], report["machine"]["nproc"])


# -- markdown ----------------------------------------------------------------------------

def _summary_lines(ph: dict[str, Any]) -> list[str]:
    lease, rs, burst = ph.get("lease", {}), ph.get("resync", {}), ph.get("burst", {})
    passes = rs.get("passes", {})
    b = headline_burst(burst)
    size = (f"{rs.get('networks', 0):,} networks × {rs.get('ports_per_network', 0)} ports"
            if rs else "")
    rows = [
        ("port create → lease obtainable, p50", fmt(lease.get("lease_ms", {}).get("p50"), "ms")),
        ("port create → lease obtainable, p99", fmt(lease.get("lease_ms", {}).get("p99"), "ms")),
        (f"full resync, {size}: cold `--once` pass",
         fmt(passes.get("cold", {}).get("wall_s"), "s")),
        (f"full resync, {size}: second pass ({passes.get('second', {}).get('reloaded', 0)} "
         "dnsmasq reloaded)", fmt(passes.get("second", {}).get("wall_s"), "s")),
        (f"full resync, {size}: no-change pass",
         fmt(passes.get("no_change", {}).get("wall_s"), "s")),
        (f"burst of {burst.get('clients', 0)} clients: leases per second (first round)",
         f"{b['leases_per_s']:,.1f}/s" if b.get("leases_per_s") else "—"),
        (f"burst of {burst.get('clients', 0)} clients: failures (first round)",
         str(b.get("failures", "—"))),
    ]
    return ["", "| metric | measured |", "| --- | ---: |"] + [f"| {a} | {v} |" for a, v in rows]


def _lease_lines(lease: dict[str, Any]) -> list[str]:
    agents = lease.get("agents", {})
    retry = lease.get("retry_ms", 100)
    lines = [
        "",
        f"**Port create → lease** ({lease_count(lease)} ports, one after another, after one "
        "warm-up). One host running `" + agents.get("l2", "fermion agent l2") + "` and `"
        + agents.get("dhcp", "fermion agent dhcp") + "` as daemons (default intervals, the "
        "change feed wakes them); one network with a DHCP-enabled /22. Per port: `POST "
        "/v2.0/ports` with `binding:host_id`, then at once an instance plugged for it as "
        "os-vif does (namespace, veth on br-int with `external_ids:iface-id`, the port's MAC, "
        f"no address) and, every {retry} ms, a new `busybox udhcpc -n -q -t 1 -T 1` in it "
        "(one DISCOVER each, waiting up to 1 s, so several overlap) until one is bound; the "
        "lease time is when its script's lease file appears (polled every 5 ms). **The "
        f"{retry} ms between tries bounds the resolution**: a lease counts up to "
        f"{retry} ms late. A watcher on another connection polls dnsmasq's hosts file "
        "(every 5 ms: the DHCP agent's part done) and the port's status (every 20 ms: the L2 "
        "agent's). Times run from the POST's answer; instances stay plugged.",
        "",
        "| from the POST's answer to … | n | p50 | p90 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        percentile_row("**a lease obtained (udhcpc bound)**", lease.get("lease_ms")),
        percentile_row("the port's MAC in dnsmasq's hosts file", lease.get("hosts_ms")),
        percentile_row("the port ACTIVE in the API", lease.get("active_ms")),
        percentile_row("the end of the plug (namespace, veth, OVS port)", lease.get("plug_ms")),
        percentile_row("a lease, counted from the end of the plug", lease.get("lease_after_plug_ms")),
        percentile_row("(the POST itself, from sending it)", lease.get("api_ms")),
    ]
    cpu = lease.get("agent_cpu_s", {})
    if cpu:
        lines += ["", f"udhcpc runs per port: {lease.get('udhcpc_runs_mean')} on average. CPU "
                  "over the series (with children): DHCP agent "
                  f"{cpu.get('dhcp', 0):.1f} s, L2 agent {cpu.get('l2', 0):.1f} s."]
    return lines


def _resync_lines(rs: dict[str, Any]) -> list[str]:
    passes = rs["passes"]
    made = rs.get("made", {})
    lines = [
        "",
        f"**Full resync** ({rs['networks']:,} networks, each with a DHCP-enabled /24 and "
        f"{rs['ports_per_network']} ports, made through the API in bulk in "
        f"{rs.get('api_create_s')} s, all scheduled to one host that has br-int and no "
        f"agent running; `{rs['agent_command']}` run three times, each a fresh process, "
        "under `bench.dhcp_profile`, which calls the same `fermion.cli.main` and times every "
        "command, step and API call; wall time of the whole command, CPU = the agent with "
        "its children). The second pass is the first with everything in place; it should "
        "change nothing (its `reloaded` column counts dnsmasq processes sent a SIGHUP "
        "because a file differed).",
        "",
        "| pass | wall | agent CPU | commands run | time in commands | API calls | "
        "dnsmasq started | adopted | reloaded | DHCP ports created |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in PASS_LABELS.items():
        p = passes.get(key)
        if not p:
            continue
        prof = p.get("profile", {})
        lines.append(f"| {label} | {fmt(p['wall_s'], 's')} | {fmt(p['cpu_s'], 's')} | "
                     f"{prof.get('commands_run', 0):,} | {fmt(prof.get('commands_s'), 's')} | "
                     f"{prof.get('api_calls', 0):,} | {p.get('started', 0)} | "
                     f"{p.get('adopted', 0)} | {p.get('reloaded', 0)} | "
                     f"{p.get('ports_created', 0)} |")
    if made:
        lines += ["", f"Made by the cold pass: {made.get('namespaces')} qdhcp namespaces, "
                  f"{made.get('ovs_ports')} tap ports on br-int, {made.get('dnsmasq')} dnsmasq "
                  f"running, {made.get('hosts_lines', 0):,} lines over all hosts files."]
    for key in ("cold", "no_change"):
        p = passes.get(key)
        if not p or "profile" not in p:
            continue
        prof, wall = p["profile"], p["wall_s"]
        n = max(1, p.get("networks", 1))
        lines += ["", f"Where the {PASS_LABELS[key].split(':')[0]} pass's {fmt(wall, 's')} go "
                  f"— external commands by kind (`[ns]`: inside a namespace; "
                  f"{prof.get('commands_run', 0) / n:.1f} per network), then the steps of the "
                  "pass (the applier works on 4 networks at once, so per-network steps and "
                  "commands add up to more than the wall time):", "",
                  "| command | runs | total | mean | max | share of wall |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in command_table(prof, wall, top=10 if key == "cold" else 5):
            lines.append(f"| `{r['kind']}` | {r['count']:,} | {fmt(r['total_s'], 's')} | "
                         f"{fmt(r['mean_ms'], 'ms')} | {fmt(r['max_ms'], 'ms')} | "
                         f"{100 * r['share']:.0f}% |")
        lines += ["", "| step | calls | total | share of wall |", "| --- | ---: | ---: | ---: |"]
        start = max(0.0, wall - prof.get("main_s", 0.0))
        lines.append(f"| start-up: Python, imports (all but `cli.main`) | 1 | "
                     f"{fmt(start, 's')} | {100 * start / wall:.0f}% |")
        spans = prof.get("spans", {})
        for label in sorted(spans, key=lambda k: SPAN_ORDER.get(k, len(SPAN_ORDER))):
            s = spans[label]
            depth = (len(label) - len(label.lstrip(" "))) // 2
            name = ("↳ " * depth) + label.strip()
            lines.append(f"| {name} | {s['count']:,} | {fmt(s['total_s'], 's')} | "
                         f"{100 * s['total_s'] / wall:.0f}% |")
    return lines


def _burst_lines(burst: dict[str, Any]) -> list[str]:
    agents = burst.get("agents", {})
    lines = [
        "",
        f"**Burst** ({burst['clients']} clients at once against one network's dnsmasq). The "
        "lease phase's set-up (`" + agents.get("l2", "fermion agent l2") + "`, `"
        + agents.get("dhcp", "fermion agent dhcp") + "`), one /24, and "
        f"{burst['clients']} instance namespaces, each plugged into br-int for its own port "
        "(as an instance boot storm would be: one namespace and one veth per client); all "
        "ports ACTIVE and all MACs in the hosts file first. Each client is `"
        + burst.get("udhcpc", "busybox udhcpc") + "` held by a shell reading a FIFO and "
        "released at one moment (the FIFO's writer closes); a lease counts when its client "
        "exits bound (polled every 5 ms). Leases/s = leases ÷ time from the release to the "
        "last lease, which includes the clients' own start (exec of busybox, on the same 2 "
        "CPUs). Failures = clients without a lease when all have exited. The first round "
        "runs against an empty lease table; the next ones are the same clients again "
        "(dnsmasq knows their leases).",
        "",
        "| round | leases | failures | all leased after | leases/s | p50 | p99 | "
        "dnsmasq CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, r in enumerate(burst.get("rounds", []), 1):
        ms, load = r.get("lease_ms", {}), r.get("machine_load", {})
        span = r.get("all_leased_s")
        rate = r.get("leases_per_s")
        lines.append(
            f"| {i} | {r.get('leases')}/{r.get('clients')} | {r.get('failures')} | "
            f"{fmt(None if span is None else 1000 * span, 'ms')} | "
            f"{f'{rate:,.1f}/s' if rate else '—'} | {fmt(ms.get('p50'), 'ms')} | "
            f"{fmt(ms.get('p99'), 'ms')} | {load.get('dnsmasq_cores', 0):.2f} cores |")
    first = headline_burst(burst).get("machine_load", {})
    if first:
        lines += ["", f"During the first round dnsmasq used {first.get('dnsmasq_cores', 0):.2f} "
                  f"cores and the clients (this benchmark's children: shells, busybox, the "
                  f"lease scripts) {first.get('bench_cores', 0):.2f}, of 2 shared CPUs: the "
                  "rate measures how fast 100 clients start and run on this machine more than "
                  "what dnsmasq could serve."]
    return lines


def markdown_section(report: dict[str, Any]) -> str:
    ph = report["phases"]
    lease, rs, burst = ph.get("lease", {}), ph.get("resync", {}), ph.get("burst", {})
    server = next((r["server"] for r in (lease, rs, burst) if "server" in r), "fermion")
    lines = [
        "## DHCP agent: port to lease, resync of many networks, a burst of clients",
        "",
        measured_line(report),
        "",
        f"Each phase gets a fresh Fermion server (`{server}`; ML2, noauth, SQLite) and fresh "
        "simulated hosts (a namespace with its own userspace OVS, `datapath_type=netdev`, "
        "`fermion.lab.host`); dnsmasq per network in a `qdhcp-` namespace, Neutron's "
        "defaults (no isolated metadata, 86400 s leases); clients are `busybox udhcpc`.",
    ]
    lines += _summary_lines(ph)
    if lease and "error" not in lease:
        lines += _lease_lines(lease)
    if rs and "error" not in rs:
        lines += _resync_lines(rs)
    if burst and "error" not in burst:
        lines += _burst_lines(burst)
    lines += ["", f"Issue 6. Raw numbers: `{report['json']}`."]
    if report["notes"]:
        lines += [""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"
