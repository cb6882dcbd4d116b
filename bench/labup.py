"""The lab suite: `fermion lab up` and `lab down` as a user runs them, with every daemon's
peak memory.

Runs: ``lab10`` (``repeats`` times: up, then down) and, with ``computes`` > 0, ``lab up
--computes N --instances M`` once. Each run is the real command with its own state and log
directories under a temporary directory; wall time from start to exit, the step times the
command prints, its smoke rows, then ``lab down``'s wall time. While the lab is up, every
process in the lab's hosts (their PID namespaces) is classified by command line and its
peak RSS read from ``VmHWM``. What is measured and how is written once, in
``sections/lab.md``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import harness as h
from bench.harness import Reporter, Suite, fmt, knob

# daemon kind -> how its command line starts (after the interpreter, for Python commands)
KINDS = (("server", "fermion server"), ("L2 agent", "fermion agent l2"),
         ("DHCP agent", "fermion agent dhcp"), ("L3 agent", "fermion agent l3"),
         ("ovs-vswitchd", "ovs-vswitchd"), ("ovsdb-server", "ovsdb-server"),
         ("dnsmasq", "dnsmasq"), ("haproxy", "haproxy"))
STEP = re.compile(r"^✓ (.+?)(?: — .*)? \(([\d.]+) s\)$", re.M)
TARGETS = {"lab10_up_s": 30.0, "scaled_up_s": 120.0, "down_s": 10.0}


@dataclass
class LabConfig:
    """`fermion lab up`/`down` times and the daemons' peak memory"""

    topology: str = knob("lab10", "the topology timed `repeats` times")
    repeats: int = knob(3, "ups and downs of the topology")
    computes: int = knob(8, "compute hosts of the scaled run; 0 skips it")
    instances: int = knob(40, "instances of the scaled run")
    timeout_s: float = knob(600.0, "longest one `lab up` may take")


def fermion() -> str:
    return str(Path(sys.executable).parent / "fermion")


def lab_processes(state: Path, lab: str | None) -> dict[int, str]:
    """pid -> command line of every process in the lab's hosts (and their guests)."""
    inits: list[int] = []
    if lab is None:
        return {}
    for holder in (state / lab / "hosts").glob("*/capsule/holder.pid"):
        try:
            holder_pid = int(holder.read_text())
        except (OSError, ValueError):
            continue
        inits += [p for p in h.process_tree(holder_pid) if p != holder_pid]
    namespaces = set()
    for pid in inits:
        try:
            namespaces.add(os.readlink(f"/proc/{pid}/ns/pid"))
        except OSError:
            pass
    out = {}
    for pid in h.process_tree(1):
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") in namespaces:
                out[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ") \
                    .decode(errors="replace").strip()
        except OSError:
            pass
    return out


def kind_of(cmd: str) -> str | None:
    words = cmd.split()
    for start in range(min(3, len(words))):
        rest = " ".join(Path(words[start]).name.split() + words[start + 1:])
        for kind, prefix in KINDS:
            if rest.startswith(prefix):
                return kind
    return None


def peak_memory(state: Path, lab: str) -> dict[str, dict[str, Any]]:
    """Per daemon kind: how many, the largest peak RSS of one (VmHWM) and their sum."""
    per: dict[str, list[float]] = {}
    for pid, cmd in lab_processes(state, lab).items():
        kind = kind_of(cmd)
        if kind is None:
            continue
        try:
            hwm = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines()
                       if x.startswith("VmHWM:"))
        except (OSError, StopIteration):
            continue
        per.setdefault(kind, []).append(int(hwm.split()[1]) / 1024)
    return {k: {"count": len(v), "max_mb": round(max(v), 1), "sum_mb": round(sum(v), 1)}
            for k, v in per.items()}


def _name(state: Path) -> str | None:
    """The lab's name: its state directory's only lab."""
    found = sorted(p.parent.name for p in state.glob("*/lab.json")) if state.exists() else []
    return found[0] if found else None


def up_down(cfg: LabConfig, rep: Reporter, args: list[str]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    state, logs = work / "state", work / "logs"
    where = ["--state-dir", str(state), "--log-dir", str(logs)]
    env = {**os.environ, "COLUMNS": "200"}
    lab = None
    try:
        t0 = time.monotonic()
        with h.load_meter(lambda: {"lab": list(lab_processes(state, _name(state)))}) as load:
            up = subprocess.run([fermion(), "lab", "up", *args, *where], capture_output=True,
                                text=True, timeout=cfg.timeout_s, env=env)
        up_s = time.monotonic() - t0
        lab = _name(state)
        if lab is None:
            raise RuntimeError(f"lab up made nothing: {up.stderr[-500:]}")
        smoke = json.loads((state / lab / "lab.json").read_text()).get("smoke", [])
        memory = peak_memory(state, lab)
        t1 = time.monotonic()
        down = subprocess.run([fermion(), "lab", "down", "--lab", lab, *where],
                              capture_output=True, text=True, timeout=120, env=env)
        down_s = time.monotonic() - t1
        if up.returncode not in (0, 1) or down.returncode != 0:
            raise RuntimeError(f"lab up exit {up.returncode}, down exit {down.returncode}: "
                               f"{(up.stderr or up.stdout)[-800:]}{down.stderr[-300:]}")
        said = re.search(r"up in ([\d.]+) s", up.stdout)
        out = {"lab": lab, "args": args, "up_s": round(up_s, 2),
               "up_reported_s": float(said.group(1)) if said else None,
               "down_s": round(down_s, 2),
               "steps_s": {m.group(1): float(m.group(2)) for m in STEP.finditer(up.stdout)},
               "smoke_pass": sum(1 for r in smoke if r["ok"]), "smoke_rows": len(smoke),
               "memory": memory, "machine_load": load}
        rep.log(f"[lab] {' '.join(args) or 'lab10'}: up {up_s:.1f} s, down {down_s:.1f} s, "
                f"smoke {out['smoke_pass']}/{out['smoke_rows']} PASS")
        return out
    finally:
        if lab and (state / lab).exists():  # a failed run: remove what it left
            subprocess.run([fermion(), "lab", "down", "--lab", lab, *where],
                           capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)


def run(cfg: LabConfig, rep: Reporter) -> dict[str, Any]:
    runs: dict[str, Any] = {"lab10": [
        h.recorded(f"lab {cfg.topology} #{n + 1}", rep,
                   lambda: up_down(cfg, rep, [cfg.topology]))
        for n in range(cfg.repeats)]}
    if cfg.computes:
        runs["scaled"] = [h.recorded("lab scaled", rep, lambda: up_down(
            cfg, rep, [cfg.topology, "--computes", str(cfg.computes),
                       "--instances", str(cfg.instances)]))]
    return {"runs": runs}


# -- targets, notes, section -----------------------------------------------------------------

def _ok(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in samples if "error" not in s]


def _median(samples: list[dict[str, Any]], key: str) -> float | None:
    values = [s[key] for s in _ok(samples) if s.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def finish(report: dict[str, Any]) -> None:
    runs = report["runs"]
    got = {"lab10_up_s": _median(runs["lab10"], "up_s"),
           "scaled_up_s": _median(runs.get("scaled", []), "up_s"),
           "down_s": max((s["down_s"] for r in runs.values() for s in _ok(r)), default=None)}
    report["targets"] = {k: {"target_s": t, "measured_s": got[k],
                             "met": got[k] is not None and got[k] < t}
                         for k, t in TARGETS.items() if got[k] is not None}
    notes = []
    for name, samples in runs.items():
        notes += h.failed_notes({f"{name} #{n + 1}": s for n, s in enumerate(samples)}, "run")
        for s in _ok(samples):
            if s["smoke_pass"] != s["smoke_rows"]:
                notes.append(f"{name}: {s['smoke_rows'] - s['smoke_pass']} of "
                             f"{s['smoke_rows']} smoke rows failed.")
        last = next(iter(_ok(samples)[-1:]), None)
        if last:
            notes += h.load_note(f"the {name} run", last.get("machine_load"),
                                 report["machine"]["nproc"])
    report["notes"] = notes


def section(report: dict[str, Any]) -> str:
    t, runs, cfg = h.texts("lab"), report["runs"], report["config"]
    names = [n for n in ("lab10", "scaled") if n in runs]
    label = {"lab10": f"{cfg['topology']} (median of {len(_ok(runs['lab10']))})",
             "scaled": f"--computes {cfg['computes']} --instances {cfg['instances']}"}
    targets = report.get("targets", {})

    def target(key: str) -> str:
        tg = targets.get(key)
        return "—" if tg is None else f"< {tg['target_s']:.0f} s: " + \
            ("**met**" if tg["met"] else "**not met**")
    rows = [("`lab up`, wall", *(fmt(_median(runs[n], "up_s"), "s") for n in names),
             f"{target('lab10_up_s')}; {target('scaled_up_s')}" if "scaled" in names
             else target("lab10_up_s")),
            ("`lab down`, wall", *(fmt(_median(runs[n], "down_s"), "s") for n in names),
             target("down_s")),
            ("smoke rows PASS", *(_smoke(runs[n]) for n in names), "all")]
    steps = sorted({k for n in names for s in _ok(runs[n]) for k in s["steps_s"]},
                   key=lambda k: min(list(s["steps_s"]).index(k) for n in names
                                     for s in _ok(runs[n]) if k in s["steps_s"]))
    rows += [(f"  step: {k}", *(fmt(_median([{"v": s["steps_s"].get(k)} for s in _ok(runs[n])],
                                            "v"), "s") for n in names), "")
             for k in steps]
    kinds = [k for k, _ in KINDS if any(k in s.get("memory", {}) for n in names
                                        for s in _ok(runs[n]))]
    memory = [(k, *(_mem(runs[n], k) for n in names)) for k in kinds]
    scaled = (f", then `fermion lab up {cfg['topology']} --computes {cfg['computes']} "
              f"--instances {cfg['instances']}` once") if "scaled" in names else ""
    head = t["head"].format(measured=h.measured_line(report), scaled=scaled, **cfg)
    return "\n".join([head, "", *h.table(["metric", *(label[n] for n in names), "<target"],
                                         rows), "", t["memory"], "",
                      *h.table(["daemon", *(label[n] for n in names)], memory),
                      *h.tail(report, t["tail"])]) + "\n"


def _smoke(samples: list[dict[str, Any]]) -> str:
    ok = _ok(samples)
    return ", ".join(f"{s['smoke_pass']}/{s['smoke_rows']}" for s in ok) or "—"


def _mem(samples: list[dict[str, Any]], kind: str) -> str:
    found = [s["memory"][kind] for s in _ok(samples) if kind in s.get("memory", {})]
    if not found:
        return "—"
    m = max(found, key=lambda x: x["max_mb"])
    return f"{m['max_mb']:.0f} MB × {m['count']} ({m['sum_mb']:.0f} MB)"


SUITE = Suite("lab", LabConfig, run, finish, section)
