"""What every suite shares: statistics, CPU and load meters, progress, and output.

A suite (``Suite``) is a config dataclass whose fields carry their help (``knob``; the
command line is made from them), ``run(cfg, rep)`` returning the report's measured part,
``finish(report)`` deriving ratios, targets and notes (redone by ``--render``) and
``section(report)``, its text in BENCHMARKS.md: prose from ``bench/sections/<suite>.md``
(``texts``), numbers and tables from here (``fmt``, ``table``, ``percentiles``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import signal
import statistics
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SECTIONS = Path(__file__).resolve().parent / "sections"
BUSY_CORES = 0.25  # CPU used by other processes during a run worth a warning in a report
Log = Callable[[str], None]


# -- statistics -----------------------------------------------------------------------------

def percentile(values: Sequence[float], p: float) -> float:
    """Linearly interpolated percentile (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """n, p50/p90/p99/max/mean in milliseconds of durations given in seconds ({} if none)."""
    if not seconds:
        return {}
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), **{f"p{p}": round(percentile(ms, p), 1) for p in (50, 90, 99)},
            "max": round(max(ms), 1), "mean": round(statistics.fmean(ms), 1)}


def summaries(samples: Sequence[dict[str, Any]], keys: Sequence[str], tenth: str = ""
              ) -> dict[str, Any]:
    """``<key>_ms``: ``summary_ms`` of each sample column ``<key>_s`` (None left out); with
    ``tenth``, that column's first and last tenth too (does it grow as the host fills?)."""
    def col(key: str, part: Sequence[dict[str, Any]] = samples) -> dict[str, float]:
        return summary_ms([v for s in part if (v := s.get(f"{key}_s")) is not None])

    n = max(1, len(samples) // 10)
    return {f"{k}_ms": col(k) for k in keys} | ({
        f"{tenth}_first_tenth_ms": col(tenth, samples[:n]),
        f"{tenth}_last_tenth_ms": col(tenth, samples[-n:])} if tenth else {})


def linear_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float, float] | None:
    """Least squares y = a + b·x; (a, b, r²), or None without two distinct x."""
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    b, a = statistics.linear_regression(*zip(*points, strict=True))
    my = statistics.fmean(y for _, y in points)
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in points)
    return a, b, 1 - ss_res / ss_tot if ss_tot else 1.0


def median_ratio(numer: Sequence[float], denom: Sequence[float]) -> float | None:
    """median(numer) / median(denom), or None when either is empty or the divisor is 0."""
    if not numer or not denom or statistics.median(denom) <= 0:
        return None
    return round(statistics.median(numer) / statistics.median(denom), 3)


# -- meters ----------------------------------------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces); [] when gone."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return []


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        if fields := _stat(entry):
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        out.append(p := todo.pop())
        todo.extend(children.get(p, []))
    return [p for p in out if Path(f"/proc/{p}").exists()]


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a live process tree, with the children each of them has reaped (an
    agent's ``ovs-vsctl`` calls count as the agent's)."""
    return sum(int(f) for p in process_tree(pid) for f in _stat(p)[11:15]) / _CLK_TCK


def tree_rss_mb(pid: int) -> dict[str, Any]:
    """VmRSS summed over a process tree, with the per-process numbers."""
    per = {}
    for p in process_tree(pid):
        with contextlib.suppress(OSError, StopIteration):
            per[p] = int(next(x for x in Path(f"/proc/{p}/status").read_text().splitlines()
                              if x.startswith("VmRSS:")).split()[1])
    return {"total_mb": round(sum(per.values()) / 1024, 1),
            "processes": {str(p): round(kb / 1024, 1) for p, kb in per.items()}}


def children_cpu_s() -> float:
    """CPU seconds of the children this process has reaped."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@contextlib.contextmanager
def load_meter(tracked: Callable[[], dict[str, list[int]]]) -> Iterator[dict[str, Any]]:
    """Average cores used while the block ran by each group of ``tracked`` pids (process
    trees: the server, an agent, the OVS daemons…), by this benchmark with the children it
    reaped, and by everything else on the machine; the 1-minute load average before and
    after. The yielded dict is filled when the block ends."""
    def busy() -> float:  # all CPUs' busy time since boot
        user, nice, system, _idle, _io, irq, softirq, steal = map(
            int, Path("/proc/stat").read_text().split()[1:9])
        return (user + nice + system + irq + softirq + steal) / _CLK_TCK

    def cpu() -> dict[str, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return {"bench": own.ru_utime + own.ru_stime + children_cpu_s(),
                **{k: sum(map(tree_cpu_s, pids)) for k, pids in tracked().items()}}

    out: dict[str, Any] = {}
    load0, busy0, t0, cpu0 = os.getloadavg()[0], busy(), time.monotonic(), cpu()
    yield out
    wall = max(time.monotonic() - t0, 1e-6)
    used = {k: v - cpu0.get(k, 0.0) for k, v in cpu().items()}
    out.update({f"{k}_cores": round(v / wall, 2) for k, v in used.items() if k != "bench"})
    out.update({"bench_cores": round(used["bench"] / wall, 2),
                "other_processes_cores": round(max(0.0, busy() - busy0 - sum(used.values()))
                                               / wall, 2),
                "loadavg_1m_before": round(load0, 2),
                "loadavg_1m_after": round(os.getloadavg()[0], 2), "wall_s": round(wall, 1)})


# -- suites and progress ---------------------------------------------------------------------

def knob(default: Any, help: str, **meta: Any) -> Any:
    """A config field that is a command-line option (``--<suite>-<name>``) with ``help``."""
    return field(default=default, metadata={"help": help, **meta})


@dataclass(frozen=True)
class Suite:
    name: str
    config: type
    run: Callable[[Any, Reporter], dict[str, Any]]
    finish: Callable[[dict[str, Any]], None]
    section: Callable[[dict[str, Any]], str]
    root: bool = True  # needs namespaces and Open vSwitch


class Reporter:
    """Progress as plain lines (about every 10% of a task); a terminal gets rich bars."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(soft_wrap=True)

    def log(self, msg: str) -> None:
        self.console.print(msg, markup=False, highlight=False)

    @contextlib.contextmanager
    def task(self, desc: str, total: int) -> Iterator[Callable[[int], None]]:
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            with Progress(desc.replace("[", r"\["), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=self.console) as prog:
                tid = prog.add_task(desc, total=total)
                yield lambda n: prog.advance(tid, n)
            return
        done, step, t0 = 0, max(1, total // 10), time.monotonic()
        mark = step

        def advance(n: int) -> None:
            nonlocal done, mark
            done += n
            if done >= mark or done >= total:
                self.log(f"  {desc}: {done}/{total} ({time.monotonic() - t0:.1f}s)")
                mark = (done // step + 1) * step

        yield advance


def recorded(tag: str, rep: Reporter, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``fn()``'s result with its ``total_s``; an exception is recorded as ``error`` (and
    logged) so that the next run or phase still runs."""
    t0 = time.monotonic()
    try:
        out = fn()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - recorded
        rep.log(f"[{tag}] FAILED: {exc}\n{traceback.format_exc(limit=4)}")
        out = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    return out | {"total_s": round(time.monotonic() - t0, 1)}


def run_phases(tag: str, table: dict[str, Callable[[Any, Reporter], dict]], cfg: Any,
               rep: Reporter) -> dict[str, Any]:
    """The phases named by ``cfg.phases`` (default: all of ``table``) in turn."""
    out = {}
    for name in getattr(cfg, "phases", table):
        rep.log(f"== {tag}: {name} ==")
        out[name] = recorded(f"{tag} {name}", rep, lambda name=name: table[name](cfg, rep))
    return out


def install_signal_handlers() -> None:
    """Ctrl-C, TERM and HUP unwind the stack, so ``finally`` blocks clean up (SIGINT gets
    Python's handler back even where a non-interactive shell started us ignoring it)."""
    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGHUP, leave)


# -- output ----------------------------------------------------------------------------------

def _first(path: str, key: str, sep: str) -> str:
    with contextlib.suppress(OSError, StopIteration):
        return next(x for x in Path(path).read_text().splitlines() if x.startswith(key)) \
            .split(sep, 1)[1].strip().strip('"')
    return ""


def new_report(benchmark: str, command: str, **fields: Any) -> dict[str, Any]:
    """A suite's report before its numbers: name, date, command and machine."""
    mem = _first("/proc/meminfo", "MemTotal:", ":").split() or ["0"]
    return {"benchmark": benchmark, "command": command,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": {"nproc": len(os.sched_getaffinity(0)),
                        "cpu": _first("/proc/cpuinfo", "model name", ":") or platform.processor(),
                        "memory_gib": round(int(mem[0]) / 1024 / 1024, 1),
                        "kernel": platform.release(),
                        "os": _first("/etc/os-release", "PRETTY_NAME=", "=") or platform.system(),
                        "python": platform.python_version()}, **fields}


def measured_line(report: dict[str, Any]) -> str:
    """"Measured <date> on <machine>, with `<command>`." — the first line of every section."""
    m = report["machine"]
    return (f"Measured {report['date']} on {m['nproc']} CPUs ({m['cpu']}), "
            f"{m['memory_gib']} GiB RAM, Linux {m['kernel']} ({m['os']}), Python {m['python']}, "
            f"with `{report['command']}`.")


def save(report: dict[str, Any], suite: Suite, json_file: Path, markdown: Path) -> str:
    """Write the report to ``json_file`` and its section, between ``<!-- <suite>:begin -->``
    and ``<!-- <suite>:end -->``, into ``markdown`` (appended if the markers are not there;
    the rest is left as it is); return the section."""
    path = json_file.resolve()
    report["json"] = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
    json_file.parent.mkdir(parents=True, exist_ok=True)
    json_file.write_text(json.dumps(report, indent=2) + "\n")
    section = suite.section(report)
    begin, end = f"<!-- {suite.name}:begin -->", f"<!-- {suite.name}:end -->"
    text = markdown.read_text() if markdown.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = f"{head}{begin}\n{section}{end}{rest.split(end, 1)[1]}"
    else:
        text = f"{text.rstrip()}\n\n{begin}\n{section}{end}\n"
    markdown.write_text(text)
    return section


def texts(suite: str) -> dict[str, str]:
    """A suite's section text, ``bench/sections/<suite>.md``: blocks each headed by a line
    ``%% <name>``, each a ``str.format`` template (the prose lives there, numbers here)."""
    parts = re.split(r"^%% (\w+)\n", (SECTIONS / f"{suite}.md").read_text(), flags=re.M)
    return {name: body.strip("\n") for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def rows_of(block: str) -> list[list[str]]:
    """``key: label`` lines of a text block."""
    return [line.split(": ", 1) for line in block.splitlines()]


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A markdown table; columns are right-aligned but the first and any named ``<…``."""
    align = ["---" if i == 0 or c.startswith("<") else "---:" for i, c in enumerate(columns)]
    return [("| " + " | ".join(c.lstrip("<") for c in columns) + " |").replace("|  |", "| |"),
            "| " + " | ".join(align) + " |",
            *("| " + " | ".join(map(str, row)) + " |" for row in rows)]


def tail(report: dict[str, Any], text: str) -> list[str]:
    """A section's last lines: ``text`` (with ``{json}``), then the notes as a list."""
    notes = [f"- {n}" for n in report["notes"]]
    return ["", text.format(json=report["json"])] + ([""] + notes if notes else [])


def fmt(v: float | None, unit: str, two_below: float = 10) -> str:
    """A number for a table: 2 decimals under ``two_below``, 1 under 100, else none."""
    if v is None:
        return "—"
    if unit == "×":
        return f"{v:.2f}×"
    digits = 2 if abs(v) < two_below else 1 if abs(v) < 100 else 0
    return f"{v:,.{digits}f} {unit}".replace(" /s", "/s")


def percentiles(s: dict[str, Any] | None, n: bool = True) -> list[Any]:
    """Table cells of a ``summary_ms`` dict: (n,) p50, p90, p99, max in ms."""
    s = s or {}
    return [s.get("n", 0)] * n + [fmt(s.get(k), "ms") for k in ("p50", "p90", "p99", "max")]


def load_note(what: str, load: dict[str, Any] | None, nproc: int) -> list[str]:
    """["Machine load during <what>: …"] from a ``load_meter`` result ([] without one)."""
    if not load:
        return []
    parts = [f"{k[:-6].replace('_', ' ')} {v:.2f}" for k, v in load.items()
             if k.endswith("_cores") and k != "other_processes_cores"]
    busy = load.get("other_processes_cores", 0.0)
    return [f"Machine load during {what}: other processes used {busy:.2f} of the {nproc} CPUs "
            f"on average ({', '.join(parts)}); 1-minute load average "
            f"{load.get('loadavg_1m_before')} → {load.get('loadavg_1m_after')}."
            + (" Enough to inflate wall-clock times." if busy >= BUSY_CORES else "")]


def failed_notes(entries: dict[str, Any], what: str = "phase") -> list[str]:
    """"The <name> <what> failed: <first line>" for each entry that has an ``error``."""
    return [f"The {name} {what} failed: {res['error'].splitlines()[0][:300]}"
            for name, res in entries.items() if "error" in res]


def value_at(node: Any, path: Sequence[str]) -> float | None:
    """The number at ``path`` in nested dicts, else None."""
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, int | float) and not isinstance(node, bool) else None
