"""``python -m bench.run`` — Fermion against upstream neutron-server on this machine.

Starts each server in turn (never both at once, so they do not share the CPUs), runs the
same client benchmark (``bench.api_bench``) against it, stops it, and writes:

- ``bench/results/api.json``: raw numbers per server, ratios, machine, command;
- the section between ``<!-- api:begin -->`` and ``<!-- api:end -->`` in ``BENCHMARKS.md``.

Ratios are oriented so that > 1 always means Fermion is better: throughput
Fermion/Neutron, latency and memory Neutron/Fermion.

Every option also reads an environment variable (named in ``--help``), so ``make bench``
can be tuned without editing the Makefile, e.g. ``BENCH_FILL_BUDGET=3000 make bench`` to
let upstream fill all 10,000 ports.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench import peer_neutron
from bench.api_bench import (
    DEFAULT_LIST_SIZES,
    ApiBench,
    BenchConfig,
    PlainReporter,
    list_sizes,
    ratios,
)
from bench.proc import install_signal_handlers, own_cpu_s, system_busy_s
from bench.servers import make_server

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO / "bench" / "results" / "api.json"
DEFAULT_MD = REPO / "BENCHMARKS.md"
BEGIN, END = "<!-- api:begin -->", "<!-- api:end -->"
ORDER = ("fermion", "neutron")
BUSY_CORES = 0.25  # CPU used by other processes during a run worth a note
TITLES = {"fermion": "Fermion", "neutron": f"Neutron {peer_neutron.NEUTRON_VERSION}"}
CLIENT = ("stdlib http.client, one new TCP connection per request (Connection: close); "
          "latency = time to the last response byte")

MD_INTRO = """\
# Benchmarks

Numbers measured on one machine by `make bench`, which runs each benchmark against
Fermion and against upstream OpenStack Neutron on the same machine, one server at a time.
They are a report, not a test: nothing asserts on them. Each section is rewritten by its
own benchmark between its markers; raw numbers are in `bench/results/`.

Run `make bench`, or `.venv/bin/python -m bench.run --help` for the knobs (counts, list
sizes, the time budget for filling upstream's port table, `--only fermion|neutron`). The
first run installs upstream Neutron into `bench/.peer/venv` (about a minute).

"""


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


# -- machine and command ------------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    mem_kb, cpu = 0, ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu or platform.processor(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
    }


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


def command_line(argv: Sequence[str]) -> str:
    return " ".join(["python -m bench.run", *map(shlex.quote, argv)])


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
            load0 = os.getloadavg()[0]
            sys0, own0, srv0, w0 = system_busy_s(), own_cpu_s(), server.cpu_s(), time.monotonic()
            res = ApiBench(server.url, cfg, reporter=rep, rss=server.rss,
                           cpu=server.cpu_s).run()
            out.update(res)
            wall = time.monotonic() - w0
            others = (system_busy_s() - sys0) - (own_cpu_s() - own0) - (server.cpu_s() - srv0)
            out["machine_load"] = {
                "loadavg_1m_before": round(load0, 2),
                "loadavg_1m_after": round(os.getloadavg()[0], 2),
                "server_cores": round((server.cpu_s() - srv0) / wall, 2),
                "client_cores": round((own_cpu_s() - own0) / wall, 2),
                "other_processes_cores": round(max(0.0, others) / wall, 2),
            }
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
    m = report["machine"]
    cfg = report["config"]
    lines = [
        "## API: Fermion vs upstream Neutron",
        "",
        f"Measured {report['date']} on {m['nproc']} CPUs ({m['cpu']}), "
        f"{m['memory_gib']} GiB RAM, Linux {m['kernel']} ({m['os']}), Python {m['python']}, "
        f"with `{report['command']}`.",
        "",
        "Both servers: ML2 with no agents, noauth, SQLite, one process; upstream runs "
        "`neutron.wsgi.api:application` under uWSGI with one thread. Client: "
        f"{report['client']}. Single creates: {cfg['create_sequential']} sequential, "
        f"{cfg['create_concurrent']} from {cfg['clients']} threads; the table is then filled "
        f"with bulk creates of {cfg['bulk_size']} ports; lists are the median of "
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


def write_markdown(path: Path, section: str) -> None:
    block = f"{BEGIN}\n{section}{END}"
    text = path.read_text() if path.exists() else MD_INTRO
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


# -- command line ------------------------------------------------------------------------------

def _env(name: str, default: Any) -> Any:
    return os.environ.get(name, default)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark Fermion's Neutron API against upstream neutron-server "
                    "(installed into bench/.peer/venv on first use) on this machine.",
        epilog="Each option's default can also come from the environment variable shown.")
    ap.add_argument("--only", choices=ORDER, default=_env("BENCH_ONLY", None),
                    help="benchmark one server only [BENCH_ONLY]")
    ap.add_argument("--ports", type=int, default=int(_env("BENCH_PORTS", 200)),
                    help="single-port creates, sequential and again concurrent "
                         "(default %(default)s) [BENCH_PORTS]")
    ap.add_argument("--clients", type=int, default=int(_env("BENCH_CLIENTS", 8)),
                    help="client threads for the concurrent creates (default %(default)s) "
                         "[BENCH_CLIENTS]")
    ap.add_argument("--sizes", default=_env("BENCH_SIZES", ",".join(map(str, DEFAULT_LIST_SIZES))),
                    help="port counts at which to time the full list (default %(default)s) "
                         "[BENCH_SIZES]")
    ap.add_argument("--bulk-size", type=int, default=int(_env("BENCH_BULK_SIZE", 100)),
                    help="ports per bulk create while filling (default %(default)s) "
                         "[BENCH_BULK_SIZE]")
    ap.add_argument("--fill-budget", type=float, default=float(_env("BENCH_FILL_BUDGET", 600)),
                    help="seconds each server may spend bulk-filling; list sizes not reached "
                         "in time are skipped and reported (default %(default)s; upstream "
                         "bulk-creates only ~3-6 ports/s on 2 CPUs, so 10,000 ports take it "
                         "30-60 min) [BENCH_FILL_BUDGET]")
    ap.add_argument("--list-repeats", type=int, default=int(_env("BENCH_LIST_REPEATS", 3)),
                    help="lists per size, median reported (default %(default)s) "
                         "[BENCH_LIST_REPEATS]")
    ap.add_argument("--ops", type=int, default=int(_env("BENCH_OPS", 200)),
                    help="show, update and delete operations each (default %(default)s) "
                         "[BENCH_OPS]")
    ap.add_argument("--json", type=Path, default=Path(_env("BENCH_JSON", DEFAULT_JSON)),
                    help="results file (default bench/results/api.json) [BENCH_JSON]")
    ap.add_argument("--markdown", type=Path, default=Path(_env("BENCH_MARKDOWN", DEFAULT_MD)),
                    help="report to rewrite between the api markers (default BENCHMARKS.md) "
                         "[BENCH_MARKDOWN]")
    ap.add_argument("--render", action="store_true",
                    help="run nothing: recompute ratios and notes from the --json file and "
                         "rewrite the BENCHMARKS.md section")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    install_signal_handlers()
    rep = make_reporter()
    cfg = BenchConfig(create_sequential=args.ports, create_concurrent=args.ports,
                      clients=args.clients,
                      list_sizes=tuple(sorted(int(s) for s in args.sizes.split(",") if s)),
                      bulk_size=args.bulk_size, fill_budget_s=args.fill_budget,
                      list_repeats=args.list_repeats, ops=args.ops)
    if args.render:
        report = json.loads(args.json.read_text())
        return write_report(report, args, rep)
    names = [args.only] if args.only else list(ORDER)
    report: dict[str, Any] = {
        "benchmark": "api",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command_line(argv),
        "machine": machine_info(),
        "client": CLIENT,
        "config": cfg.as_dict(),
        "servers": {},
    }
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
    servers = report["servers"]
    json_path = args.json.resolve()
    report["json"] = (str(json_path.relative_to(REPO)) if json_path.is_relative_to(REPO)
                      else str(json_path))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    section = markdown_section(report)
    write_markdown(args.markdown, section)
    rep.log(section)
    rep.log(f"wrote {args.json} and the api section of {args.markdown}")
    return 0 if all("error" not in r for r in servers.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
