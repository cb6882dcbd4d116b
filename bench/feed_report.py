"""The feed suite's report: ratios, notes and the ``BENCHMARKS.md`` section.

``bench.run --suite feed`` runs ``bench.feed_bench.run_feed_bench`` twice, each time on a
fresh ``fermion server``: with the full set of watchers (``runs["fanout"]``) and with the
baseline's few (``runs["baseline"]``, 1 by default), and writes the raw numbers to
``bench/results/feed.json``. This module turns that report into the section between
``<!-- feed:begin -->`` and ``<!-- feed:end -->``; ``--render`` redoes it from the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.proc import BUSY_CORES
from bench.report import measured_line

RUNS = ("fanout", "baseline")
CLIENT = ("stdlib http.client in one Python process: each watcher a thread long-polling "
          "`GET /v2.0/fermion/changes?since=…&timeout=5&limit=1000` on its own keep-alive "
          "connection; each writer a thread sending `PUT /v2.0/ports/{id}` on its own")


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    path: tuple[str, ...]  # where the value is in one run's result


ROWS = (
    Row("deliveries", "deliveries/s to the watchers (changes × watchers)", "/s",
        ("live", "deliveries_per_s")),
    Row("latency_p50", "write→watcher latency p50, from sending the write", "ms",
        ("live", "latency_ms", "p50")),
    Row("latency_p99", "write→watcher latency p99, from sending the write", "ms",
        ("live", "latency_ms", "p99")),
    Row("after_ack_p50", "write→watcher latency p50, from the writer's 200", "ms",
        ("live", "after_ack_ms", "p50")),
    Row("after_ack_p99", "write→watcher latency p99, from the writer's 200", "ms",
        ("live", "after_ack_ms", "p99")),
    Row("backlog", "backlog catch-up, deliveries/s (all watchers re-read from the start)",
        "/s", ("backlog", "deliveries_per_s")),
    Row("writes", "writes/s while watched", "/s", ("live", "write_rate_per_s")),
)


def value(res: dict[str, Any], path: tuple[str, ...]) -> float | None:
    node: Any = res
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, int | float) else None


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    digits = 2 if abs(v) < 1 else 1 if abs(v) < 100 else 0
    return f"{v:,.{digits}f} {unit}".replace(" /s", "/s")


def _watchers(n: int) -> str:
    return f"{n} watcher" + ("" if n == 1 else "s")


# -- ratios and notes (redone by --render) -----------------------------------------------

def ratios(fanout: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float]:
    """Fan-out run ÷ baseline run per row (both positive, else no ratio)."""
    out = {}
    for row in ROWS:
        a, b = value(fanout, row.path), value(baseline, row.path)
        if a is not None and b is not None and a > 0 and b > 0:
            out[row.key] = round(a / b, 2)
    return out


def notes_for(res: dict[str, Any], nproc: int) -> list[str]:
    title = f"{res.get('watchers', 0)}-watcher run"
    if "error" in res:
        return [f"The {title} failed: {res['error'].splitlines()[0][:300]}"]
    notes = []
    for phase in ("live", "backlog"):
        p = res.get(phase, {})
        if p.get("watchers_complete", 0) < res["watchers"]:
            notes.append(f"{title.capitalize()}, {phase}: only {p.get('watchers_complete', 0)} of "
                         f"{res['watchers']} watchers received every change before the "
                         "timeout, so its rate counts only what arrived.")
        if p.get("duplicates"):
            notes.append(f"{title.capitalize()}, {phase}: {p['duplicates']} changes were delivered twice "
                         "to the same watcher.")
        if p.get("errors"):
            notes.append(f"{title.capitalize()}, {phase}: watcher errors, e.g. {p['errors'][0][:200]}")
    backlog = res.get("backlog", {})
    if 0 < backlog.get("wall_s", 1.0) < 0.05:
        notes.append(f"The {title}'s backlog took only {backlog['wall_s'] * 1000:.0f} ms "
                     "(a page or two of changes per watcher), so its rate is a rough "
                     "figure.")
    load = res.get("machine_load")
    if load:
        busy = load["other_processes_cores"]
        notes.append(
            f"Machine load during the {title} (live + backlog): other processes used "
            f"{busy:.1f} of the {nproc} CPUs on average, the server {load['server_cores']:.1f} "
            f"and the benchmark client (watchers and writers) {load['client_cores']:.1f}; "
            f"1-minute load average {load['loadavg_1m_before']} → "
            f"{load['loadavg_1m_after']}."
            + (" That is enough to inflate its wall-clock rates and latencies."
               if busy >= BUSY_CORES else ""))
    return notes


def finish(report: dict[str, Any]) -> None:
    runs = report["runs"]
    ok = {k: r for k, r in runs.items() if "error" not in r}
    both = all(k in ok for k in RUNS)
    report["ratios"] = ratios(ok["fanout"], ok["baseline"]) if both else {}
    nproc = report["machine"]["nproc"]
    report["notes"] = [n for k in RUNS if k in runs for n in notes_for(runs[k], nproc)]


# -- markdown ----------------------------------------------------------------------------

def markdown_section(report: dict[str, Any]) -> str:
    runs, cfg = report["runs"], report["config"]
    names = [k for k in RUNS if k in runs]
    counts = {k: runs[k].get("watchers", cfg["watchers" if k == "fanout" else
                                          "baseline_watchers"]) for k in names}
    n, ports = cfg["watchers"], cfg["ports"]
    server = next((r["server"] for r in runs.values() if "server" in r), "fermion")
    lines = [
        f"## Change feed: {n} watchers, {ports:,} ports in the database",
        "",
        measured_line(report),
        "",
        f"Each run gets a fresh Fermion server (`{server}`; ML2 with no agents, noauth, one "
        f"process), filled first with {ports:,} ports by bulk creates. Live: the watchers wait from the "
        f"current revision while {cfg['writers']} writers update {cfg['writes']:,} distinct "
        "ports as fast as the server takes them, and every watcher must receive every one "
        "of those changes; latency runs to the moment a watcher holds the change, from "
        "when its write was sent or from when the writer had its 200 (negative when the "
        "watcher was first). Backlog: then as many new watchers re-read those changes "
        "from the start revision at once, like agents catching up after a restart. "
        f"Client: {report['client']}. The baseline is the same run with "
        f"{_watchers(cfg['baseline_watchers'])}, measured right after, so the cost of "
        "fanning out shows as the ratio.",
        "",
        "| metric | " + " | ".join(_watchers(counts[k]) for k in names)
        + (f" | {counts['fanout']} ÷ {counts['baseline']} |" if len(names) == 2 else " |"),
        "| --- |" + " ---: |" * (len(names) + (len(names) == 2)),
    ]
    for row in ROWS:
        cells = [_fmt(value(runs[k], row.path), row.unit) for k in names]
        if len(names) == 2:
            r = report["ratios"].get(row.key)
            cells.append(f"{r:,.2f}×" if r is not None else "—")
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    if len(names) == 2:
        lines += ["", f"Reading the ratio: deliveries/s would be {counts['fanout']}× if "
                  "fanning out were free (each change goes to every watcher, and with one "
                  "watcher the rate cannot exceed writes/s); for latency and writes/s, "
                  "1× means the extra watchers cost nothing. Server CPU over live + "
                  "backlog: " + ", ".join(
                      f"{_fmt(runs[k].get('server_cpu_s'), 's')} with "
                      f"{_watchers(counts[k])}" for k in names if "error" not in runs[k])
                  + f". Raw numbers: `{report['json']}`."]
    else:
        lines += ["", f"Raw numbers: `{report['json']}`."]
    if report["notes"]:
        lines += [""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"
