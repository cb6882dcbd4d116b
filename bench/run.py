"""``python -m bench.run`` — Fermion's benchmarks on this machine (what ``make bench`` runs).

``--suite`` picks what runs (default ``all``: api, then feed, l2, l3, dhcp):

- ``api``: Fermion against upstream neutron-server. Starts each server in turn (never
  both at once, so they do not share the CPUs), runs the same client benchmark
  (``bench.api_bench``) against it, stops it, and writes ``bench/results/api.json`` (raw
  numbers per server, ratios, machine, command) and the section between
  ``<!-- api:begin -->`` and ``<!-- api:end -->`` in ``BENCHMARKS.md``. Ratios are oriented
  so that > 1 always means Fermion is better: throughput Fermion/Neutron, latency and
  memory Neutron/Fermion.
- ``feed``: the change feed under load (``bench.feed_bench``): 50 long-polling watchers
  with 10,000 ports in the database, then a 1-watcher baseline, each on a fresh Fermion
  server. Writes ``bench/results/feed.json`` and the section between
  ``<!-- feed:begin -->`` and ``<!-- feed:end -->`` (``bench.feed_report``).
- ``l2``: the L2 agent on simulated hosts (``bench.l2_bench``; needs root): port create +
  plug → ACTIVE and ping (p50/p99), resync of 1,000 ports, iperf3 through the pipeline vs a
  bare ``NORMAL`` bridge. Writes ``bench/results/l2.json`` and the section between
  ``<!-- l2:begin -->`` and ``<!-- l2:end -->`` (``bench.l2_report``).
- ``l3``: the L3 agent on simulated hosts (``bench.l3_bench``; needs root): ``router add
  subnet`` and ``floating ip set`` to traffic passing (p50/p99), and the resync (cold and
  no-change ``--once`` passes, profiled) of 100 routers with 10 floating IPs each. Writes
  ``bench/results/l3.json`` and the section between ``<!-- l3:begin -->`` and
  ``<!-- l3:end -->`` (``bench.l3_report``).
- ``dhcp``: the DHCP agent on simulated hosts (``bench.dhcp_bench``; needs root): port
  create → a ``udhcpc`` lease (p50/p99), the resync (cold and no-change ``--once`` passes,
  profiled) of 200 networks × 20 ports, and leases per second for a burst of 100 clients.
  Writes ``bench/results/dhcp.json`` and the section between ``<!-- dhcp:begin -->`` and
  ``<!-- dhcp:end -->`` (``bench.dhcp_report``).

``--render`` runs nothing and rewrites the selected suites' sections from their JSON.

Every option also reads an environment variable (named in ``--help``), so ``make bench``
can be tuned without editing the Makefile, e.g. ``BENCH_FILL=api BENCH_FILL_BUDGET=3000
make bench`` to fill upstream's 10,000 ports through its API alone (instead of copying
rows past ``--clone-from``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import dhcp_report, feed_report, l2_report, l3_report, peer_neutron
from bench.api_bench import (
    DEFAULT_LIST_SIZES,
    ApiBench,
    BenchConfig,
    PlainReporter,
    list_sizes,
    ratios,
)
from bench.dhcp_bench import DhcpConfig, run_dhcp_bench
from bench.feed_bench import run_feed_bench
from bench.l2_bench import L2Config, run_l2_bench
from bench.l3_bench import L3Config, run_l3_bench
from bench.proc import BUSY_CORES, install_signal_handlers, machine_load
from bench.report import REPO, measured_line, new_report, save
from bench.servers import make_server

DEFAULT_JSON = REPO / "bench" / "results" / "api.json"
DEFAULT_FEED_JSON = REPO / "bench" / "results" / "feed.json"
DEFAULT_L2_JSON = REPO / "bench" / "results" / "l2.json"
DEFAULT_L3_JSON = REPO / "bench" / "results" / "l3.json"
DEFAULT_DHCP_JSON = REPO / "bench" / "results" / "dhcp.json"
DEFAULT_MD = REPO / "BENCHMARKS.md"
ORDER = ("fermion", "neutron")
SUITES = ("api", "feed", "l2", "l3", "dhcp")
TITLES = {"fermion": "Fermion", "neutron": f"Neutron {peer_neutron.NEUTRON_VERSION}"}
CLIENT = ("stdlib http.client, one new TCP connection per request (Connection: close); "
          "latency = time to the last response byte")


# -- progress -------------------------------------------------------------------------------

class RichReporter(PlainReporter):
    """rich console lines, with progress bars on a terminal (plain lines elsewhere)."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(soft_wrap=True)

    def log(self, msg: str) -> None:
        self.console.print(msg, markup=False, highlight=False)

    @contextlib.contextmanager
    def task(self, desc: str, total: int) -> Iterator[Callable[[int], None]]:
        if not self.console.is_terminal:
            with super().task(desc, total) as advance:
                yield advance
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(SpinnerColumn(), TextColumn("  " + desc.replace("[", r"\[")),
                      BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=self.console) as prog:
            tid = prog.add_task(desc, total=total)
            yield lambda n: prog.advance(tid, n)


def make_reporter() -> PlainReporter:
    try:
        return RichReporter()
    except ImportError:
        return PlainReporter()


# -- one server -------------------------------------------------------------------------------

def bench_server(name: str, cfg: BenchConfig, rep: PlainReporter) -> dict[str, Any]:
    rep.log(f"== {TITLES[name]} ==")
    out: dict[str, Any] = {}
    t0 = time.monotonic()
    server = make_server(name, log=rep.log)
    try:
        with server:
            out.update({"version": server.version(), "startup_s": server.startup_s})
            time.sleep(1.0)  # let start-up work settle before the idle RSS sample
            with machine_load(server) as load:
                out.update(ApiBench(server.url, cfg, reporter=rep, rss=server.rss,
                                    cpu=server.cpu_s,
                                    clone=getattr(server, "clone_ports", None)).run())
            out["machine_load"] = load
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - recorded, the other server still runs
        rep.log(f"[{name}] FAILED: {exc}")
        rep.log(traceback.format_exc(limit=3))
        out["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    out["total_s"] = round(time.monotonic() - t0, 1)
    return out


def notes_for(name: str, res: dict[str, Any]) -> list[str]:
    notes = []
    title = TITLES[name]
    if "error" in res:
        notes.append(f"{title} failed: {res['error'].splitlines()[0][:300]}")
        return notes
    fill = res.get("fill", {})
    if fill.get("clones"):
        copied = sum(c["added"] for c in fill["clones"])
        first = fill["clones"][0]
        notes.append(
            f"{title}: {fill['api_ports']} ports were made through its API (single and bulk "
            f"creates), the other {copied:,} by copying its bulk-created ports' rows in its "
            f"database ({sum(c['seconds'] for c in fill['clones']):.0f} s; see "
            "`--fill`); before each list the API counted exactly the ports expected, and a "
            f"copy shown through the API had the same {first['attributes']} attributes as "
            f"its original, equal except {', '.join(first['differs'])}.")
    if fill.get("timed_out"):
        sizes = [e["ports"] for e in res.get("list", [])]
        notes.append(
            f"{title}: the bulk fill stopped at {fill['reached']} ports when its "
            f"{fill['budget_s']:.0f} s budget ran out (`--fill-budget`), so its list was "
            f"measured only at {', '.join(map(str, sizes)) or 'no size'} ports; "
            f"show/update/delete ran at {res.get('at_ports')} ports.")
    busy = res.get("machine_load", {}).get("other_processes_cores", 0.0)
    if busy >= BUSY_CORES:
        notes.append(
            f"{title}: other processes on this machine used {busy:.1f} of its "
            f"{os.cpu_count()} CPUs on average during the run, so its wall-clock numbers "
            "are inflated; the server-CPU-per-operation rows are much less affected.")
    for phase in ("create_sequential", "create_concurrent", "bulk_create", "show", "update",
                  "delete"):
        if res.get(phase, {}).get("errors"):
            p = res[phase]
            notes.append(f"{title}: {phase} had {p['errors']} errors of {p['n']}, e.g. "
                         f"{(p.get('error_samples') or [''])[0][:160]}")
    return notes


# -- output -----------------------------------------------------------------------------------

def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    digits = 2 if abs(value) < 1 else 1 if abs(value) < 100 else 0
    return f"{value:,.{digits}f} {unit}"


def fill_method(cfg: dict[str, Any]) -> str:
    """How the port table was filled past the API's share (``--fill``), for the intro."""
    if cfg.get("fill", "api") != "clone":
        return ""
    return (f" up to {cfg['clone_from']:,} ports, and beyond that, on upstream only (whose "
            "API creates a few ports per second), by copying the bulk-created ports in its "
            "SQLite database: every row of each (standard attributes, port, fixed IPs and "
            "their IPAM allocation, ML2 binding, port security, security group binding, any "
            "other table that references the port) with a new UUID, MAC address, free IP "
            "address, name and device_id in the pattern of the bulk creates; each size is "
            "checked through its API before it is timed. Fermion is filled through its API "
            "all the way")


def markdown_section(report: dict[str, Any]) -> str:
    from bench.api_bench import common_size, headline

    servers = report["servers"]
    names = [n for n in ORDER if n in servers]
    ok = [servers[n] for n in names if "error" not in servers[n]]
    at = common_size(*ok) if ok else None
    per = {n: {m.key: m for m in headline(servers[n], at)} if "error" not in servers[n] else {}
           for n in names}
    keys: list[str] = []
    for n in names:
        for k in per[n]:
            if k not in keys:
                keys.append(k)
    cfg = report["config"]
    lines = [
        "## API: Fermion vs upstream Neutron",
        "",
        measured_line(report),
        "",
        "Both servers: ML2 with no agents, noauth, SQLite, one process; upstream runs "
        "`neutron.wsgi.api:application` under uWSGI with one thread. Client: "
        f"{report['client']}. Single creates: {cfg['create_sequential']} sequential, "
        f"{cfg['create_concurrent']} from {cfg['clients']} threads; the table is then filled "
        f"with bulk creates of {cfg['bulk_size']} ports{fill_method(cfg)}; lists are the "
        "median of "
        f"{cfg['list_repeats']}; {cfg['ops']} each of show/update/delete. \"Ready after "
        "start\" runs from process start to the first `GET /` → 200 (upstream's schema is "
        "built before it starts; Fermion migrates its own database at start).",
        "",
        "| metric | " + " | ".join(TITLES[n] for n in ORDER) + " | Fermion advantage |",
        "| --- | ---: | ---: | ---: |",
    ]
    for k in keys:
        metric = next(per[n][k] for n in names if k in per[n])
        cells = []
        for n in ORDER:
            mm = per.get(n, {}).get(k)
            cells.append(_fmt(mm.value if mm else None, metric.unit))
        r = report["ratios"].get(k, {}).get("ratio")
        lines.append(f"| {metric.label} | " + " | ".join(cells) + " | "
                     + (f"{r:,.2f}×" if r is not None else "—") + " |")
    lines += ["", "Fermion advantage > 1 means Fermion is better (throughput: Fermion/Neutron; "
              "latency and memory: Neutron/Fermion). RSS is VmRSS summed over the server's "
              f"processes. Raw numbers: `{report['json']}`."]
    if report["notes"]:
        lines += [""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


# -- command line ------------------------------------------------------------------------------

def _env(name: str, default: Any) -> Any:
    return os.environ.get(name, default)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Fermion's benchmarks on this machine: its Neutron API against upstream "
                    "neutron-server (installed into bench/.peer/venv on first use), its "
                    "change feed under load, and the L2, L3 and DHCP agents on simulated "
                    "hosts (root).",
        epilog="Each option's default can also come from the environment variable shown.")
    ap.add_argument("--suite", choices=("all", *SUITES), default=_env("BENCH_SUITE", "all"),
                    help="which benchmarks to run or --render (default %(default)s: api, "
                         "then feed, l2, l3, dhcp) [BENCH_SUITE]")
    ap.add_argument("--markdown", type=Path, default=Path(_env("BENCH_MARKDOWN", DEFAULT_MD)),
                    help="report to rewrite between each suite's markers (default "
                         "BENCHMARKS.md) [BENCH_MARKDOWN]")
    ap.add_argument("--render", action="store_true",
                    help="run nothing: recompute ratios and notes from the suites' JSON files "
                         "and rewrite their BENCHMARKS.md sections")
    api = ap.add_argument_group("api suite")
    api.add_argument("--only", choices=ORDER, default=_env("BENCH_ONLY", None),
                     help="benchmark one server only [BENCH_ONLY]")
    api.add_argument("--ports", type=int, default=int(_env("BENCH_PORTS", 200)),
                     help="single-port creates, sequential and again concurrent "
                          "(default %(default)s) [BENCH_PORTS]")
    api.add_argument("--clients", type=int, default=int(_env("BENCH_CLIENTS", 8)),
                     help="client threads for the concurrent creates (default %(default)s) "
                          "[BENCH_CLIENTS]")
    api.add_argument("--sizes",
                     default=_env("BENCH_SIZES", ",".join(map(str, DEFAULT_LIST_SIZES))),
                     help="port counts at which to time the full list (default "
                          "%(default)s) [BENCH_SIZES]")
    api.add_argument("--bulk-size", type=int, default=int(_env("BENCH_BULK_SIZE", 100)),
                     help="ports per bulk create while filling (default %(default)s) "
                          "[BENCH_BULK_SIZE]")
    api.add_argument("--fill-budget", type=float,
                     default=float(_env("BENCH_FILL_BUDGET", 600)),
                     help="seconds each server may spend bulk-filling through its API; "
                          "with --fill api, list sizes not reached in time are skipped and "
                          "reported (upstream bulk-creates only ~3-6 ports/s on 2 CPUs, so "
                          "10,000 ports take it 30-60 min); with --fill clone, copying takes "
                          "over (default %(default)s) [BENCH_FILL_BUDGET]")
    api.add_argument("--fill", choices=("clone", "api"), default=_env("BENCH_FILL", "clone"),
                     help="how upstream's port table grows past --clone-from ports: copy "
                          "its bulk-created ports' rows in its database (clone, default), or "
                          "bulk creates through its API within --fill-budget (api); Fermion "
                          "is always filled through its API [BENCH_FILL]")
    api.add_argument("--clone-from", type=int, default=int(_env("BENCH_CLONE_FROM", 1000)),
                     help="with --fill clone: ports made through the API before copying "
                          "starts (default %(default)s) [BENCH_CLONE_FROM]")
    api.add_argument("--list-repeats", type=int, default=int(_env("BENCH_LIST_REPEATS", 3)),
                     help="lists per size, median reported (default %(default)s) "
                          "[BENCH_LIST_REPEATS]")
    api.add_argument("--ops", type=int, default=int(_env("BENCH_OPS", 200)),
                     help="show, update and delete operations each (default %(default)s) "
                          "[BENCH_OPS]")
    api.add_argument("--json", type=Path, default=Path(_env("BENCH_JSON", DEFAULT_JSON)),
                     help="results file (default bench/results/api.json) [BENCH_JSON]")
    feed = ap.add_argument_group("feed suite (Fermion only)")
    feed.add_argument("--watchers", type=int, default=int(_env("BENCH_WATCHERS", 50)),
                      help="long-polling watchers (default %(default)s) [BENCH_WATCHERS]")
    feed.add_argument("--baseline-watchers", type=int,
                      default=int(_env("BENCH_BASELINE_WATCHERS", 1)),
                      help="watchers in the baseline run on a second fresh server; 0 skips "
                           "it (default %(default)s) [BENCH_BASELINE_WATCHERS]")
    feed.add_argument("--feed-ports", type=int, default=int(_env("BENCH_FEED_PORTS", 10000)),
                      help="ports in the database before measuring (default %(default)s) "
                           "[BENCH_FEED_PORTS]")
    feed.add_argument("--feed-writes", type=int, default=int(_env("BENCH_FEED_WRITES", 1000)),
                      help="port updates the watchers must all receive (default "
                           "%(default)s) [BENCH_FEED_WRITES]")
    feed.add_argument("--feed-writers", type=int, default=int(_env("BENCH_FEED_WRITERS", 4)),
                      help="writer threads (default %(default)s) [BENCH_FEED_WRITERS]")
    feed.add_argument("--feed-timeout", type=float,
                      default=float(_env("BENCH_FEED_TIMEOUT", 300)),
                      help="seconds the watchers get to receive everything, per phase "
                           "(default %(default)s) [BENCH_FEED_TIMEOUT]")
    feed.add_argument("--feed-json", type=Path,
                      default=Path(_env("BENCH_FEED_JSON", DEFAULT_FEED_JSON)),
                      help="results file (default bench/results/feed.json) [BENCH_FEED_JSON]")
    l2 = ap.add_argument_group("l2 suite (the L2 agent on simulated hosts; needs root)")
    l2.add_argument("--l2-ports", type=int, default=int(_env("BENCH_L2_PORTS", 200)),
                    help="ports timed from create + plug to ACTIVE and ping (default "
                         "%(default)s) [BENCH_L2_PORTS]")
    l2.add_argument("--l2-resync-ports", type=int,
                    default=int(_env("BENCH_L2_RESYNC_PORTS", 1000)),
                    help="ports on the host for the resync passes (default %(default)s) "
                         "[BENCH_L2_RESYNC_PORTS]")
    l2.add_argument("--l2-default-sg-ports", type=int,
                    default=int(_env("BENCH_L2_DEFAULT_SG_PORTS", 200)),
                    help="resync again at this size with the default security group "
                         "(remote group); 0 skips (default %(default)s) "
                         "[BENCH_L2_DEFAULT_SG_PORTS]")
    l2.add_argument("--l2-poll-interval", type=float,
                    default=float(_env("BENCH_L2_POLL_INTERVAL", 2.0)),
                    help="the running agent's --poll-interval; local plugs wake it at once "
                         "(OVSDB monitor) (default %(default)s) [BENCH_L2_POLL_INTERVAL]")
    l2.add_argument("--l2-sg", choices=("prefix", "default"),
                    default=_env("BENCH_L2_SG", "prefix"),
                    help="ports' security group: ingress from the subnet's prefix, or the "
                         "default group (remote group) (default %(default)s) [BENCH_L2_SG]")
    l2.add_argument("--l2-iperf-seconds", type=float,
                    default=float(_env("BENCH_L2_IPERF_SECONDS", 5)),
                    help="seconds per iperf3 run (default %(default)s) "
                         "[BENCH_L2_IPERF_SECONDS]")
    l2.add_argument("--l2-iperf-repeats", type=int,
                    default=int(_env("BENCH_L2_IPERF_REPEATS", 5)),
                    help="iperf3 runs per path, alternating (default %(default)s) "
                         "[BENCH_L2_IPERF_REPEATS]")
    l2.add_argument("--l2-no-vxlan", action="store_true",
                    default=bool(_env("BENCH_L2_NO_VXLAN", "")),
                    help="skip the two-host VXLAN throughput run [BENCH_L2_NO_VXLAN]")
    l2.add_argument("--l2-json", type=Path, default=Path(_env("BENCH_L2_JSON", DEFAULT_L2_JSON)),
                    help="results file (default bench/results/l2.json) [BENCH_L2_JSON]")
    l3 = ap.add_argument_group("l3 suite (the L3 agent on simulated hosts; needs root)")
    l3.add_argument("--l3-samples", type=int, default=int(_env("BENCH_L3_SAMPLES", 25)),
                    help="router add subnet, and floating ip set, timed to traffic each "
                         "(default %(default)s) [BENCH_L3_SAMPLES]")
    l3.add_argument("--l3-routers", type=int, default=int(_env("BENCH_L3_ROUTERS", 100)),
                    help="routers on the host for the resync passes (default %(default)s) "
                         "[BENCH_L3_ROUTERS]")
    l3.add_argument("--l3-fips", type=int, default=int(_env("BENCH_L3_FIPS", 10)),
                    help="floating IPs per router in the resync (default %(default)s) "
                         "[BENCH_L3_FIPS]")
    l3.add_argument("--l3-json", type=Path, default=Path(_env("BENCH_L3_JSON", DEFAULT_L3_JSON)),
                    help="results file (default bench/results/l3.json) [BENCH_L3_JSON]")
    dhcp = ap.add_argument_group("dhcp suite (the DHCP agent on simulated hosts; needs root)")
    dhcp.add_argument("--dhcp-samples", type=int, default=int(_env("BENCH_DHCP_SAMPLES", 40)),
                      help="ports timed from create to a udhcpc lease (default %(default)s) "
                           "[BENCH_DHCP_SAMPLES]")
    dhcp.add_argument("--dhcp-retry-ms", type=int, default=int(_env("BENCH_DHCP_RETRY_MS", 100)),
                      help="a new udhcpc every this many ms while waiting for a lease; bounds "
                           "the resolution (default %(default)s) [BENCH_DHCP_RETRY_MS]")
    dhcp.add_argument("--dhcp-networks", type=int,
                      default=int(_env("BENCH_DHCP_NETWORKS", 200)),
                      help="networks in the resync (default %(default)s) [BENCH_DHCP_NETWORKS]")
    dhcp.add_argument("--dhcp-ports", type=int, default=int(_env("BENCH_DHCP_PORTS", 20)),
                      help="ports per network in the resync (default %(default)s) "
                           "[BENCH_DHCP_PORTS]")
    dhcp.add_argument("--dhcp-clients", type=int, default=int(_env("BENCH_DHCP_CLIENTS", 100)),
                      help="clients in the burst (default %(default)s) [BENCH_DHCP_CLIENTS]")
    dhcp.add_argument("--dhcp-rounds", type=int, default=int(_env("BENCH_DHCP_ROUNDS", 3)),
                      help="bursts, one after another (default %(default)s) "
                           "[BENCH_DHCP_ROUNDS]")
    dhcp.add_argument("--dhcp-json", type=Path,
                      default=Path(_env("BENCH_DHCP_JSON", DEFAULT_DHCP_JSON)),
                      help="results file (default bench/results/dhcp.json) [BENCH_DHCP_JSON]")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    install_signal_handlers()
    rep = make_reporter()
    suites = SUITES if args.suite == "all" else (args.suite,)
    if args.render:
        return render(suites, args, rep)
    codes = []
    for suite in suites:
        code = RUNNERS[suite](argv, args, rep)
        if code == 130:
            return code
        codes.append(code)
    return max(codes)


def render(suites: Sequence[str], args: argparse.Namespace, rep: PlainReporter) -> int:
    """``--render``: each selected suite's section again from its JSON file."""
    codes = []
    for suite in suites:
        path = {"api": args.json, "feed": args.feed_json, "l2": args.l2_json,
                "l3": args.l3_json, "dhcp": args.dhcp_json}[suite]
        if not path.exists():
            rep.log(f"no {path}: the {suite} section is left as it is")
            codes.append(1)
            continue
        report = json.loads(path.read_text())
        codes.append(WRITERS[suite](report, args, rep))
    return max(codes)


# -- api suite ---------------------------------------------------------------------------------

def api_suite(argv: Sequence[str], args: argparse.Namespace, rep: PlainReporter) -> int:
    cfg = BenchConfig(create_sequential=args.ports, create_concurrent=args.ports,
                      clients=args.clients,
                      list_sizes=tuple(sorted(int(s) for s in args.sizes.split(",") if s)),
                      bulk_size=args.bulk_size, fill_budget_s=args.fill_budget,
                      list_repeats=args.list_repeats, ops=args.ops, fill=args.fill,
                      clone_from=args.clone_from)
    names = [args.only] if args.only else list(ORDER)
    report = new_report("api", argv, client=CLIENT, config=cfg.as_dict(), servers={})
    try:
        if "neutron" in names:  # install first, so it never overlaps a measurement
            spent = peer_neutron.ensure_installed(rep.log)
            if spent:
                report["peer_install_s"] = round(spent, 1)
        for name in names:
            report["servers"][name] = bench_server(name, cfg, rep)
    except KeyboardInterrupt:
        rep.log("interrupted: servers stopped, nothing written")
        return 130
    return write_report(report, args, rep)


def finish(report: dict[str, Any]) -> None:
    """Ratios and notes from the raw numbers (also redone by ``--render``)."""
    servers = report["servers"]
    ok = {n: r for n, r in servers.items() if "error" not in r}
    both = "fermion" in ok and "neutron" in ok
    report["ratios"] = ratios(ok["fermion"], ok["neutron"]) if both else {}
    report["notes"] = [n for name in ORDER if name in servers
                       for n in notes_for(name, servers[name])]
    if both and list_sizes(ok["fermion"]) != list_sizes(ok["neutron"]):
        ranges = ", ".join(
            f"{TITLES[n]} {min(list_sizes(ok[n]), default=0)}–{max(list_sizes(ok[n]), default=0)}"
            for n in ORDER)
        report["notes"].append(f"The linear fits of list time cover different table sizes "
                               f"({ranges} ports), so they get no ratio.")


def write_report(report: dict[str, Any], args: argparse.Namespace, rep: PlainReporter) -> int:
    finish(report)
    save(report, args.json, args.markdown, markdown_section, rep.log)
    return 0 if all("error" not in r for r in report["servers"].values()) else 1


# -- feed suite --------------------------------------------------------------------------------

def feed_suite(argv: Sequence[str], args: argparse.Namespace, rep: PlainReporter) -> int:
    """The fan-out run, then the baseline, each on a fresh Fermion server."""
    config = {"watchers": args.watchers, "baseline_watchers": args.baseline_watchers,
              "ports": args.feed_ports, "writes": args.feed_writes,
              "writers": args.feed_writers, "timeout_s": args.feed_timeout}
    report = new_report("feed", argv, client=feed_report.CLIENT, config=config, runs={})
    plan = {"fanout": args.watchers, "baseline": args.baseline_watchers}
    try:
        for key, watchers in plan.items():
            if watchers > 0:
                report["runs"][key] = feed_run(watchers, args, rep)
    except KeyboardInterrupt:
        rep.log("interrupted: server stopped, nothing written")
        return 130
    return write_feed_report(report, args, rep)


def feed_run(watchers: int, args: argparse.Namespace, rep: PlainReporter) -> dict[str, Any]:
    rep.log(f"== change feed: {watchers} watcher(s), {args.feed_ports} ports ==")
    out: dict[str, Any] = {"watchers": watchers}
    t0 = time.monotonic()
    try:
        with make_server("fermion", log=rep.log) as server:
            out["startup_s"] = server.startup_s
            out.update(run_feed_bench(watchers=watchers, ports=args.feed_ports,
                                      writes=args.feed_writes, writers=args.feed_writers,
                                      timeout=args.feed_timeout, log=rep.log, server=server))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - recorded, the other run still runs
        rep.log(f"[feed] FAILED: {exc}")
        rep.log(traceback.format_exc(limit=3))
        out["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    out["total_s"] = round(time.monotonic() - t0, 1)
    return out


def write_feed_report(report: dict[str, Any], args: argparse.Namespace,
                      rep: PlainReporter) -> int:
    feed_report.finish(report)
    save(report, args.feed_json, args.markdown, feed_report.markdown_section, rep.log)
    return 0 if all("error" not in r for r in report["runs"].values()) else 1


# -- the agents' suites (l2, l3, dhcp) ------------------------------------------------------------

@dataclass(frozen=True)
class AgentSuite:
    """One agent's suite: how to build its config from the options, run it, report it."""

    config: Callable[[argparse.Namespace], Any]
    run: Callable[[Any, PlainReporter], dict[str, Any]]
    report: Any  # module with finish(report) and markdown_section(report)
    json_option: str
    leftovers: str  # what an interrupt has removed


AGENT_SUITES = {
    "l2": AgentSuite(
        lambda a: L2Config(ports=a.l2_ports, resync_ports=a.l2_resync_ports,
                           default_sg_ports=a.l2_default_sg_ports,
                           poll_interval=a.l2_poll_interval, sg=a.l2_sg,
                           iperf_seconds=a.l2_iperf_seconds, iperf_repeats=a.l2_iperf_repeats,
                           vxlan=not a.l2_no_vxlan),
        run_l2_bench, l2_report, "l2_json", "hosts, agents and server"),
    "l3": AgentSuite(
        lambda a: L3Config(samples=a.l3_samples, routers=a.l3_routers, fips=a.l3_fips),
        run_l3_bench, l3_report, "l3_json", "hosts, agents, routers and server"),
    "dhcp": AgentSuite(
        lambda a: DhcpConfig(samples=a.dhcp_samples, retry_ms=a.dhcp_retry_ms,
                             networks=a.dhcp_networks, ports_per_network=a.dhcp_ports,
                             clients=a.dhcp_clients, burst_rounds=a.dhcp_rounds),
        run_dhcp_bench, dhcp_report, "dhcp_json",
        "clients, agents, dnsmasq, hosts and server"),
}


def agent_suite(name: str, argv: Sequence[str], args: argparse.Namespace,
                rep: PlainReporter) -> int:
    """An agent's phases (``bench.<name>_bench``), each on a fresh server and hosts."""
    suite = AGENT_SUITES[name]
    if os.geteuid() != 0:
        rep.log(f"{name} suite skipped: it needs root (network namespaces, Open vSwitch)")
        return 1
    cfg = suite.config(args)
    report = new_report(name, argv, config=cfg.as_dict(), phases={})
    try:
        report["phases"] = suite.run(cfg, rep)
    except KeyboardInterrupt:
        rep.log(f"interrupted: {suite.leftovers} removed, nothing written")
        return 130
    return write_agent_report(name, report, args, rep)


def write_agent_report(name: str, report: dict[str, Any], args: argparse.Namespace,
                       rep: PlainReporter) -> int:
    suite = AGENT_SUITES[name]
    suite.report.finish(report)
    save(report, getattr(args, suite.json_option), args.markdown,
         suite.report.markdown_section, rep.log)
    return 0 if all("error" not in r for r in report["phases"].values()) else 1


RUNNERS = {"api": api_suite, "feed": feed_suite,
           **{name: functools.partial(agent_suite, name) for name in AGENT_SUITES}}
WRITERS = {"api": write_report, "feed": write_feed_report,
           **{name: functools.partial(write_agent_report, name) for name in AGENT_SUITES}}


if __name__ == "__main__":
    sys.exit(main())
