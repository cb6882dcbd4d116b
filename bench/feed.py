"""The feed suite: Fermion's change feed under load, against a 1-watcher baseline.

Each run gets a fresh ``fermion server`` filled with ``ports`` ports; then **live**:
``watchers`` threads long-poll ``GET /v2.0/fermion/changes`` while ``writers`` threads update
``writes`` distinct ports, and every watcher must receive every change once; **backlog**:
as many new watchers re-read those changes from the start. What is measured and how is
written once, in ``sections/feed.md``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bench import harness as h
from bench.harness import Reporter, Suite, fmt, knob
from bench.procs import Api, FermionServer

CLIENT = ("stdlib http.client in one Python process: each watcher a thread long-polling "
          "`GET /v2.0/fermion/changes?since=…&timeout=5&limit=1000` on its own keep-alive "
          "connection; each writer a thread sending `PUT /v2.0/ports/{id}` on its own")
RUNS = ("fanout", "baseline")
# (key, label, unit, where the value is in one run's result)
ROWS = (
    ("deliveries", "deliveries/s to the watchers (changes × watchers)", "/s",
     ("live", "deliveries_per_s")),
    ("latency_p50", "write→watcher latency p50, from sending the write", "ms",
     ("live", "latency_ms", "p50")),
    ("latency_p99", "write→watcher latency p99, from sending the write", "ms",
     ("live", "latency_ms", "p99")),
    ("after_ack_p50", "write→watcher latency p50, from the writer's 200", "ms",
     ("live", "after_ack_ms", "p50")),
    ("after_ack_p99", "write→watcher latency p99, from the writer's 200", "ms",
     ("live", "after_ack_ms", "p99")),
    ("backlog", "backlog catch-up, deliveries/s (all watchers re-read from the start)", "/s",
     ("backlog", "deliveries_per_s")),
    ("writes", "writes/s while watched", "/s", ("live", "write_rate_per_s")),
)


@dataclass
class FeedConfig:
    """the change feed under load (Fermion only)"""

    watchers: int = knob(50, "long-polling watchers")
    baseline_watchers: int = knob(1, "watchers in the baseline run on a second fresh "
                                     "server; 0 skips it")
    ports: int = knob(10000, "ports in the database before measuring")
    writes: int = knob(1000, "port updates the watchers must all receive")
    writers: int = knob(4, "writer threads")
    timeout_s: float = knob(300.0, "seconds the watchers get to receive everything, per phase")


class Watcher(threading.Thread):
    """Long-polls from ``since`` until it holds ``want()`` (known later) or is stopped."""

    def __init__(self, url: str, since: int, want: Callable[[], set[str] | None]) -> None:
        super().__init__(daemon=True)
        self.url, self.since, self.want = url, since, want
        self.received: dict[str, float] = {}  # port id → when this watcher had it
        self.duplicates = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        api = Api(self.url)
        try:
            while not self.stop.is_set():
                query = urlencode({"since": self.since, "timeout": 5, "limit": 1000})
                body = api.expect("GET", f"/v2.0/fermion/changes?{query}")
                now = time.perf_counter()
                for change in body["changes"]:
                    if change["resource"] == "port" and change["action"] == "update":
                        self.duplicates += change["resource_id"] in self.received
                        self.received[change["resource_id"]] = now
                self.since = body["revision"]
                if (want := self.want()) is not None and want <= self.received.keys():
                    return
        except BaseException as error:
            self.error = error
        finally:
            api.close()


def _latency_ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"p50": round(h.percentile(ms, 50), 2), "p99": round(h.percentile(ms, 99), 2),
            "max": round(max(ms), 2)} if ms else {}


def _join(threads: list[Watcher], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for w in threads:
        w.join(max(0.0, deadline - time.monotonic()))
    for w in threads:  # any still polling after the timeout: stop after their next answer
        w.stop.set()


def live(url: str, start: int, targets: list[str], cfg: FeedConfig, watchers: int
         ) -> dict[str, Any]:
    want: set[str] | None = None
    threads = [Watcher(url, start, lambda: want) for _ in range(watchers)]
    for w in threads:
        w.start()
    time.sleep(0.5)  # all watchers are waiting
    sent, acked, write_s, errors = {}, {}, [], []

    def write(ids: list[str]) -> None:
        api = Api(url)
        try:
            for port_id in ids:
                sent[port_id] = t0 = time.perf_counter()
                api.expect("PUT", f"/v2.0/ports/{port_id}", {"port": {"name": "touched"}})
                acked[port_id] = time.perf_counter()
                write_s.append(acked[port_id] - t0)
        except BaseException as error:
            errors.append(error)
        finally:
            api.close()

    t0 = time.perf_counter()
    pool = [threading.Thread(target=write, args=(targets[i::cfg.writers],), daemon=True)
            for i in range(cfg.writers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    writes_done = time.perf_counter()
    if errors:
        raise errors[0]
    want = set(targets)
    _join(threads, cfg.timeout_s)
    last = max((max(w.received.values(), default=t0) for w in threads), default=t0)
    got = [(pid, when) for w in threads for pid, when in w.received.items()]
    deliveries = sum(len(want & w.received.keys()) for w in threads)
    return {
        "writes": len(targets), "writers": cfg.writers,
        "write_rate_per_s": round(len(targets) / (writes_done - t0), 1),
        "write_latency_ms": _latency_ms(write_s), "deliveries": deliveries,
        "wall_s": round(last - t0, 3), "deliveries_per_s": round(deliveries / (last - t0), 1),
        "latency_ms": _latency_ms([when - sent[p] for p, when in got if p in sent]),
        # from the writer's 200 (the commit is earlier still): negative when a watcher had
        # the change before the writer had its answer
        "after_ack_ms": _latency_ms([when - acked[p] for p, when in got if p in acked]),
        "watchers_complete": sum(1 for w in threads
                                 if want <= w.received.keys() and not w.error),
        "duplicates": sum(w.duplicates for w in threads),
        "errors": [repr(w.error) for w in threads if w.error][:3]}


def backlog(url: str, start: int, targets: list[str], cfg: FeedConfig, watchers: int
            ) -> dict[str, Any]:
    want = set(targets)
    threads = [Watcher(url, start, lambda: want) for _ in range(watchers)]
    t0 = time.perf_counter()
    for w in threads:
        w.start()
    _join(threads, cfg.timeout_s)
    wall = time.perf_counter() - t0
    deliveries = sum(len(want & w.received.keys()) for w in threads)
    return {"changes": len(targets), "deliveries": deliveries, "wall_s": round(wall, 3),
            "deliveries_per_s": round(deliveries / wall, 1),
            "watchers_complete": sum(1 for w in threads if want <= w.received.keys())}


def feed_run(cfg: FeedConfig, watchers: int, rep: Reporter) -> dict[str, Any]:
    rep.log(f"== change feed: {watchers} watcher(s), {cfg.ports} ports ==")
    with FermionServer(log=rep.log) as server:
        api = Api(server.url)
        net = api.post("/v2.0/networks", {"network": {"name": "feed-bench"}})["id"]
        api.post("/v2.0/subnets", {"subnet": {"network_id": net, "ip_version": 4,
                                              "cidr": "10.128.0.0/16", "enable_dhcp": False}})
        ids: list[str] = []
        while len(ids) < cfg.ports:
            ids += [p["id"] for p in api.post("/v2.0/ports", {"ports": [
                {"network_id": net, "name": f"fb-{len(ids) + i}"}
                for i in range(min(500, cfg.ports - len(ids)))]})]
        start = api.expect("GET", "/v2.0/fermion/snapshot?host=feed-bench")["snapshot"][
            "revision"]
        api.close()
        targets = random.Random(7).sample(ids, min(cfg.writes, len(ids)))
        out: dict[str, Any] = {"watchers": watchers, "startup_s": server.startup_s,
                               "ports_in_db": cfg.ports}
        cpu0 = server.cpu_s()
        with h.load_meter(lambda: {"server": [server.pid or 0]}) as load:
            out["live"] = live(server.url, start, targets, cfg, watchers)
            out["backlog"] = backlog(server.url, start, targets, cfg, watchers)
        rep.log(f"[feed] live: {out['live']['deliveries_per_s']} deliveries/s, latency "
                f"{out['live']['latency_ms']}; backlog: {out['backlog']['deliveries_per_s']}/s")
        return out | {"server": server.version(), "server_cpu_s": round(server.cpu_s() - cpu0, 2),
                      "server_rss_mb": server.rss()["total_mb"], "machine_load": load}


def run(cfg: FeedConfig, rep: Reporter) -> dict[str, Any]:
    plan = {"fanout": cfg.watchers, "baseline": cfg.baseline_watchers}
    return {"client": CLIENT, "runs": {
        k: {"watchers": n} | h.recorded(f"feed {k}", rep, lambda n=n: feed_run(cfg, n, rep))
        for k, n in plan.items() if n}}


# -- ratios, notes, section ------------------------------------------------------------------

def _watchers(n: int) -> str:
    return f"{n} watcher" + ("" if n == 1 else "s")


def notes_for(res: dict[str, Any], nproc: int) -> list[str]:
    title = f"{res.get('watchers', 0)}-watcher run"
    if "error" in res:
        return [f"The {title} failed: {res['error'].splitlines()[0][:300]}"]
    notes, cap = [], title.capitalize()
    for phase in ("live", "backlog"):
        p = res.get(phase, {})
        if p.get("watchers_complete", 0) < res["watchers"]:
            notes.append(f"{cap}, {phase}: only {p.get('watchers_complete', 0)} of "
                         f"{res['watchers']} watchers received every change before the "
                         "timeout, so its rate counts only what arrived.")
        if p.get("duplicates"):
            notes.append(f"{cap}, {phase}: {p['duplicates']} changes were delivered twice to "
                         "the same watcher.")
        if p.get("errors"):
            notes.append(f"{cap}, {phase}: watcher errors, e.g. {p['errors'][0][:200]}")
    if 0 < res.get("backlog", {}).get("wall_s", 1.0) < 0.05:
        notes.append(f"The {title}'s backlog took only {res['backlog']['wall_s'] * 1000:.0f} "
                     "ms (a page or two of changes per watcher), so its rate is a rough "
                     "figure.")
    return notes + h.load_note(f"the {title} (live + backlog)", res.get("machine_load"), nproc)


def finish(report: dict[str, Any]) -> None:
    runs = report["runs"]
    ok = {k: r for k, r in runs.items() if "error" not in r}
    report["ratios"] = {}
    if all(k in ok for k in RUNS):  # fan-out ÷ baseline per row, both positive
        for key, _label, _unit, path in ROWS:
            a, b = h.value_at(ok["fanout"], path), h.value_at(ok["baseline"], path)
            if a and b and a > 0 and b > 0:
                report["ratios"][key] = round(a / b, 2)
    report["notes"] = [n for k in RUNS if k in runs
                       for n in notes_for(runs[k], report["machine"]["nproc"])]


def section(report: dict[str, Any]) -> str:
    t, runs, cfg = h.texts("feed"), report["runs"], report["config"]
    names = [k for k in RUNS if k in runs]
    counts = {k: runs[k].get("watchers", cfg["watchers" if k == "fanout" else
                                          "baseline_watchers"]) for k in names}
    server = next((r["server"] for r in runs.values() if "server" in r), "fermion")
    both = len(names) == 2
    rows = [(label, *(fmt(h.value_at(runs[k], path), unit, 1) for k in names),
             *([f"{r:,.2f}×" if (r := report["ratios"].get(key)) is not None else "—"] * both))
            for key, label, unit, path in ROWS]
    columns = ["metric", *(_watchers(counts[k]) for k in names)]
    columns += [f"{counts['fanout']} ÷ {counts['baseline']}"] if both else []
    text = t["tail"]
    if both:
        cpu = ", ".join(f"{fmt(runs[k].get('server_cpu_s'), 's', 1)} with {_watchers(counts[k])}"
                        for k in names if "error" not in runs[k])
        text = t["ratio"].format(fanout=counts["fanout"], cpu=cpu) + " " + text
    head = t["head"].format(measured=h.measured_line(report), server=server, **cfg,
                            client=report["client"], baseline=_watchers(cfg["baseline_watchers"]))
    return "\n".join([head, "", *h.table(columns, rows), *h.tail(report, text)]) + "\n"


SUITE = Suite("feed", FeedConfig, run, finish, section, root=False)
