"""The api suite: the same client benchmark against Fermion and upstream neutron-server,
one server at a time (never both at once, so they do not share the CPUs), through plain
Neutron v2.0 HTTP with a new TCP connection per request (``bench.procs.Api``). ``ApiBench``
runs its phases against one fresh server: creates, a bulk fill to each list size with the
lists timed (upstream's table grown past ``clone_from`` ports by ``clone_ports``, checked
through its API), then show/update/delete; what each measures is written once, in
``sections/api.md``. Ratios are oriented so that > 1 means Fermion is better.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bench import harness as h
from bench import peer_neutron
from bench.harness import Reporter, Suite, fmt, knob
from bench.procs import Api, ApiError, FermionServer, Response

ORDER = ("fermion", "neutron")
TITLES = {"fermion": "Fermion", "neutron": f"Neutron {peer_neutron.NEUTRON_VERSION}"}
CLIENT = ("stdlib http.client, one new TCP connection per request (Connection: close); "
          "latency = time to the last response byte")
# A copy differs from its original in these attributes only (fixed_ips: the addresses).
CLONE_VARIES = frozenset({"id", "name", "mac_address", "device_id", "fixed_ips",
                          "dns_assignment"})


@dataclass
class ApiConfig:
    """Fermion against upstream neutron-server, installed into bench/.peer/venv at first"""

    servers: tuple[str, ...] = knob(ORDER, "servers to measure, comma-separated",
                                    choices=ORDER)
    ports: int = knob(200, "single-port creates, sequential and again concurrent")
    clients: int = knob(8, "client threads for the concurrent creates")
    list_sizes: tuple[int, ...] = knob((500, 1000, 2000, 5000, 10000),
                                       "table sizes (ports) at which lists are timed")
    bulk_size: int = knob(100, "ports per bulk create while filling")
    fill: str = knob("clone", "how upstream's table grows past --api-clone-from ports: copy "
                     "its bulk-created ports' rows in its database, or bulk creates through "
                     "its API within --api-fill-budget-s; Fermion always fills through its "
                     "API", choices=("clone", "api"))
    clone_from: int = knob(1000, "with --api-fill clone: ports made through the API first")
    fill_budget_s: float = knob(600.0, "seconds each server may bulk-fill through its API; "
                                "sizes not reached in time are skipped and reported "
                                "(upstream makes ~3-6 ports/s here)")
    list_repeats: int = knob(3, "lists per size, median reported")
    group: int = knob(50, "ports per device_id: what the filtered list matches")
    ops: int = knob(200, "show, update and delete operations each")
    timeout_s: float = knob(600.0, "seconds one request may take")
    seed: int = knob(1, "seed of the random choice of ports to show/update/delete")


@dataclass
class OpStats:
    """Latencies of one kind of operation and the wall time they took together."""

    n: int = 0
    wall_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, r: Response | Exception, ok: Sequence[int] = (201,)) -> bool:
        with self.lock:
            self.n += 1
            if isinstance(r, Response) and r.status in ok:
                self.latencies.append(r.elapsed)
                return True
            if len(self.error_samples) < 3:
                self.error_samples.append((f"{r.status}: {r.body[:300]!r}" if isinstance(
                    r, Response) else f"{type(r).__name__}: {r}")[:300])
            return False

    def summary(self) -> dict[str, Any]:
        ms, ok = [x * 1000 for x in self.latencies], len(self.latencies)
        out: dict[str, Any] = {
            "n": self.n, "ok": ok, "errors": self.n - ok, "wall_s": round(self.wall_s, 3),
            "per_s": round(ok / self.wall_s, 2) if self.wall_s else None,
            "p50_ms": round(h.percentile(ms, 50), 2) if ms else None,
            "p99_ms": round(h.percentile(ms, 99), 2) if ms else None,
            "mean_ms": round(statistics.fmean(ms), 2) if ms else None}
        return out | ({"error_samples": self.error_samples} if self.error_samples else {})


class ApiBench:
    """The client benchmark against one running server (``run()`` does it all)."""

    def __init__(self, server: Any, cfg: ApiConfig, rep: Reporter) -> None:
        self.api = Api(server.url, timeout=cfg.timeout_s, fresh=True)
        self.cfg, self.rep, self.server = cfg, rep, server
        self.clone = getattr(server, "clone_ports", None) if cfg.fill == "clone" else None
        self.net = ""
        self.port_ids: list[str] = []  # every port this run made and has not deleted
        self.bulk_ids: list[str] = []  # ports the fill's bulk creates made (clone templates)
        self.bulk_count = 0  # ports made by the fill, copies included (they carry device_id)

    @contextlib.contextmanager
    def server_cpu(self, out: dict[str, Any], per: Callable[[], int]) -> Iterator[None]:
        """Add ``server_cpu_ms_per_op`` (server CPU over the block / ``per()``) to out."""
        c0 = self.server.cpu_s()
        yield
        n = per()
        out["server_cpu_ms_per_op"] = round((self.server.cpu_s() - c0) * 1000 / n, 2) \
            if n else None

    def body(self, name: str, device_id: str = "") -> dict[str, Any]:
        return {"network_id": self.net, "name": name, "admin_state_up": True} | (
            {"device_id": device_id} if device_id else {})

    def call(self, stats: OpStats, method: str, path: str, body: Any = None,
             ok: Sequence[int] = (201,)) -> Response | None:
        try:
            r = self.api.request(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            stats.record(exc)
            return None
        return r if stats.record(r, ok) else None

    def timed_ops(self, desc: str, calls: Sequence[tuple[str, str, Any]], ok: Sequence[int],
                  workers: int = 1) -> dict[str, Any]:
        """``calls`` (method, path, body) from ``workers`` threads, each answer timed."""
        stats, cpu, lock, stop = OpStats(), {}, threading.Lock(), threading.Event()
        with self.rep.task(desc, len(calls)) as advance, \
                self.server_cpu(cpu, lambda: len(stats.latencies)):
            def worker(k: int) -> None:
                for method, path, body in calls[k::workers]:
                    if stop.is_set():  # Ctrl-C: the other workers quit early
                        return
                    r = self.call(stats, method, path, body, ok)
                    if r is not None and method == "POST":
                        self.port_ids.append(r.json()["port"]["id"])
                    with lock:
                        advance(1)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=workers) as pool:
                try:
                    list(pool.map(worker, range(workers)))
                except BaseException:
                    stop.set()
                    raise
            stats.wall_s = time.perf_counter() - t0
        return stats.summary() | cpu

    def creates(self, prefix: str, workers: int) -> dict[str, Any]:
        calls = [("POST", "/v2.0/ports", {"port": self.body(f"{prefix}-{i}")})
                 for i in range(self.cfg.ports)]
        desc = "create sequential" if workers == 1 else f"create with {workers} clients"
        return self.timed_ops(desc, calls, (201,), workers)

    def count_ports(self) -> int:
        return len(self.api.expect("GET", "/v2.0/ports?" + urlencode(
            {"fields": "id", "network_id": self.net}))["ports"])

    def names(self, n: int) -> tuple[list[str], list[str]]:
        start, g = self.bulk_count, self.cfg.group
        return ([f"bulk-{start + j}" for j in range(n)],
                [f"bench-dev-{(start + j) // g}" for j in range(n)])

    def bulk_create(self, count: int, stats: OpStats) -> int:
        names, devices = self.names(count)
        r = self.call(stats, "POST", "/v2.0/ports", {"ports": [
            self.body(n, d) for n, d in zip(names, devices, strict=True)]})
        made = [p["id"] for p in r.json()["ports"]] if r is not None else []
        self.port_ids += made
        self.bulk_ids += made
        self.bulk_count += len(made)
        return len(made)

    def timed_list(self, query: dict[str, str]) -> dict[str, Any]:
        path = "/v2.0/ports" + ("?" + urlencode(query) if query else "")
        times, cpu, r = [], {}, None
        with self.server_cpu(cpu, lambda: len(times)):
            for _ in range(self.cfg.list_repeats):
                r = self.api.request("GET", path)
                if r.status != 200:
                    raise ApiError(f"GET {path} -> {r.status}: {r.body[:300]!r}")
                times.append(r.elapsed * 1000)
        assert r is not None
        return {"count": len(r.json()["ports"]), "bytes": len(r.body), "repeats": len(times),
                "p50_ms": round(statistics.median(times), 2), "min_ms": round(min(times), 2),
                "max_ms": round(max(times), 2)} | cpu

    def clone_to(self, size: int, count: int) -> dict[str, Any]:
        """Copy bulk-created ports in the database up to ``size`` ports, then check."""
        assert self.clone is not None
        n = size - count
        t0 = time.perf_counter()
        created = self.clone(self.net, self.bulk_ids, *self.names(n))
        spent = time.perf_counter() - t0
        self.port_ids += created
        self.bulk_count += len(created)
        if (seen := self.count_ports()) != size:
            raise ApiError(f"after copying {n} ports the API lists {seen} ports, not {size}")
        check = self.compare(self.bulk_ids[0], created[0])
        self.rep.log(f"  copied {n} ports in {spent:.1f}s; the API lists {seen}; a copy "
                     f"matches its original except {', '.join(check['differs'])}")
        return {"ports": size, "added": n, "seconds": round(spent, 2), "api_count": seen,
                **check}

    def compare(self, original: str, copy: str) -> dict[str, Any]:
        """A copy shown through the API next to its original: the same attributes with the
        same values, except those that must differ (``CLONE_VARIES``)."""
        a, b = (self.api.expect("GET", f"/v2.0/ports/{p}")["port"] for p in (original, copy))
        wrong = sorted(set(a) ^ set(b)) or [k for k in a if k not in CLONE_VARIES
                                            and a[k] != b[k]]
        if wrong:
            raise ApiError(f"copy {copy} differs from its original {original} in {wrong}")
        if ([f["subnet_id"] for f in a["fixed_ips"]] != [f["subnet_id"] for f in b["fixed_ips"]]
                or {f["ip_address"] for f in a["fixed_ips"]}
                & {f["ip_address"] for f in b["fixed_ips"]}):
            raise ApiError(f"copy {copy}'s fixed IPs {b['fixed_ips']} do not match its "
                           f"original's subnets with new addresses {a['fixed_ips']}")
        return {"compared": [original, copy], "attributes": len(a),
                "differs": sorted(k for k in a if a[k] != b[k])}

    def fill_and_list(self) -> dict[str, Any]:
        cfg, stats = self.cfg, OpStats()
        lists, filtered, skipped, clones = [], [], [], []
        count = self.count_ports()
        target = max(cfg.list_sizes, default=count)
        budget_end, timed_out, failures = time.monotonic() + cfg.fill_budget_s, False, 0
        t_fill = cpu_fill = 0.0
        with self.rep.task(f"bulk fill to {target} ports ({cfg.bulk_size}/request)",
                           max(0, target - count)) as advance:
            for size in sorted(cfg.list_sizes):
                if size < count:
                    skipped.append(size)
                    continue
                while count < size:
                    api_target = size
                    if self.clone is not None:  # the API makes the first clone_from ports,
                        api_target = min(size, cfg.clone_from)  # and at least one bulk
                        if not self.bulk_ids:  # request (the templates)
                            api_target = max(api_target, min(size, count + cfg.bulk_size))
                    out_of_time = time.monotonic() > budget_end
                    if self.clone is not None and self.bulk_ids and (count >= api_target
                                                                     or out_of_time):
                        clones.append(self.clone_to(size, count))
                        advance(size - count)
                        count = size
                        break
                    if out_of_time:
                        timed_out = True
                        break
                    t0, c0 = time.perf_counter(), self.server.cpu_s()
                    made = self.bulk_create(min(cfg.bulk_size, api_target - count), stats)
                    t_fill += time.perf_counter() - t0
                    cpu_fill += self.server.cpu_s() - c0
                    count += made
                    advance(made)
                    failures = 0 if made else failures + 1
                    if failures >= 3:
                        raise ApiError(f"bulk create failing: {stats.error_samples}")
                if count < size:
                    break
                self.rep.log(f"  list at {size} ports ...")
                lists.append({"ports": size, **self.timed_list({})})
                filtered.append({"ports": size, **self.timed_list({"device_id": "bench-dev-0"})})
                self.rep.log(f"  list {size} ports: {lists[-1]['p50_ms']:.1f} ms "
                             f"({lists[-1]['bytes'] / 1e6:.1f} MB), filtered "
                             f"({filtered[-1]['count']}): {filtered[-1]['p50_ms']:.1f} ms")
        stats.wall_s = t_fill
        made = len(self.bulk_ids)
        bulk = stats.summary() | {
            "per_s": round(made / t_fill, 2) if t_fill else None, "bulk_size": cfg.bulk_size,
            "ports": made,
            "requests_per_s": round(len(stats.latencies) / t_fill, 3) if t_fill else None}
        if made:
            bulk["server_cpu_ms_per_op"] = round(cpu_fill * 1000 / made, 2)
        fit = h.linear_fit([(e["ports"], e["p50_ms"]) for e in lists])
        fill = {"target": target, "reached": count, "timed_out": timed_out,
                "budget_s": cfg.fill_budget_s, "sizes_skipped": skipped,
                "method": "api+clone" if clones else "api",
                "api_ports": count - sum(c["added"] for c in clones)}
        return {"bulk_create": bulk, "fill": fill | ({"clones": clones} if clones else {}),
                "list": lists, "list_filtered": filtered, "list_fit": None if fit is None else {
                    "intercept_ms": round(fit[0], 2),
                    "ms_per_1000_ports": round(fit[1] * 1000, 2), "r2": round(fit[2], 4)}}

    def show_update_delete(self) -> dict[str, Any]:
        m = min(self.cfg.ops, len(self.port_ids) // 3)
        picked = random.Random(self.cfg.seed).sample(self.port_ids, 3 * m)
        out = {"at_ports": len(self.port_ids),
               "show": self.timed_ops("show", [("GET", f"/v2.0/ports/{p}", None)
                                               for p in picked[:m]], (200,)),
               "update": self.timed_ops("update name", [
                   ("PUT", f"/v2.0/ports/{p}", {"port": {"name": f"upd-{i}"}})
                   for i, p in enumerate(picked[m:2 * m])], (200,)),
               "delete": self.timed_ops("delete", [("DELETE", f"/v2.0/ports/{p}", None)
                                                   for p in picked[2 * m:]], (204,))}
        gone = set(picked[2 * m:])
        self.port_ids = [p for p in self.port_ids if p not in gone]
        return out

    def run(self) -> dict[str, Any]:
        res: dict[str, Any] = {"rss_idle": self.server.rss()}
        r = self.api.request("POST", "/v2.0/networks", {"network": {
            "name": "bench-net", "admin_state_up": True}})
        r2 = self.api.request("POST", "/v2.0/subnets", {"subnet": {
            "network_id": r.json()["network"]["id"], "name": "bench-subnet", "ip_version": 4,
            "cidr": "10.0.0.0/16", "enable_dhcp": False}})
        if r2.status != 201:
            raise ApiError(f"network/subnet create -> {r.status}, {r2.status}: {r2.body!r}")
        self.net = r.json()["network"]["id"]
        res["setup"] = {"network_create_ms": round(r.elapsed * 1000, 2),
                        "subnet_create_ms": round(r2.elapsed * 1000, 2),
                        "network_type": r.json()["network"].get("provider:network_type")}
        self.rep.log(f"  network {self.net} ({res['setup']['network_type']}), subnet "
                     "10.0.0.0/16")
        res["create_sequential"] = self.creates("seq", 1)
        res["create_concurrent"] = self.creates("conc", self.cfg.clients) | {
            "clients": self.cfg.clients}
        res.update(self.fill_and_list())
        res.update(self.show_update_delete())
        return res | {"rss_after": self.server.rss()}


def bench_server(name: str, cfg: ApiConfig, rep: Reporter) -> dict[str, Any]:
    rep.log(f"== {TITLES[name]} ==")
    with (FermionServer if name == "fermion" else peer_neutron.NeutronPeer)(log=rep.log) as s:
        out = {"version": s.version(), "startup_s": s.startup_s}
        time.sleep(1.0)  # let start-up work settle before the idle RSS sample
        with h.load_meter(lambda: {"server": [s.pid or 0]}) as load:
            out.update(ApiBench(s, cfg, rep).run())
        return out | {"machine_load": load}


def run(cfg: ApiConfig, rep: Reporter) -> dict[str, Any]:
    out: dict[str, Any] = {"client": CLIENT, "servers": {}}
    if "neutron" in cfg.servers:  # install first, so it never overlaps a measurement
        if spent := peer_neutron.ensure_installed(rep.log):
            out["peer_install_s"] = round(spent, 1)
    for name in (n for n in ORDER if n in cfg.servers):
        out["servers"][name] = h.recorded(name, rep, lambda n=name: bench_server(n, cfg, rep))
    return out


# -- headline metrics, ratios, notes ---------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    value: float | None
    unit: str
    better: str  # "higher" or "lower"


def list_sizes(res: dict[str, Any]) -> list[int]:
    return [e["ports"] for e in res.get("list", [])]


def common_size(*results: dict[str, Any]) -> int | None:
    """The largest list size that every result reached."""
    common = set.intersection(*(set(list_sizes(r)) for r in results)) if results else set()
    return max(common, default=None)


def headline(res: dict[str, Any], at_size: int | None = None) -> list[Metric]:
    """The numbers worth comparing, in table order. Server CPU per list and the filtered
    list are given at ``at_size`` (the largest size both servers reached) or the largest."""
    out: list[Metric] = []

    def add(key: str, label: str, unit: str, better: str, value: Any = None) -> None:
        if value is None:
            node: Any = res
            for p in key.split("."):
                node = node.get(p) if isinstance(node, dict) else None
            value = node
        out.append(Metric(key, label, None if value is None else float(value), unit, better))

    add("startup_s", "ready after start", "s", "lower")
    for phase, label in (("create_sequential", "port create, sequential"),
                         ("create_concurrent", "port create, concurrent clients")):
        add(f"{phase}.per_s", label, "ports/s", "higher")
        add(f"{phase}.p50_ms", f"{label} p50", "ms", "lower")
        add(f"{phase}.p99_ms", f"{label} p99", "ms", "lower")
        if phase == "create_sequential":
            add(f"{phase}.server_cpu_ms_per_op", "server CPU per port create", "ms", "lower")
    add("bulk_create.per_s", "port create, bulk", "ports/s", "higher")
    lists = {e["ports"]: e for e in res.get("list", [])}
    for size, e in lists.items():
        add(f"list.{size}.p50_ms", f"list {size} ports", "ms", "lower", e["p50_ms"])
    add("list_fit.ms_per_1000_ports", "list cost per 1000 ports (linear fit)", "ms", "lower")
    size = at_size if at_size in lists else max(lists, default=None)
    if size is not None:
        add(f"list.{size}.server_cpu_ms", f"server CPU per list of {size} ports", "ms",
            "lower", lists[size].get("server_cpu_ms_per_op"))
        if fl := {e["ports"]: e for e in res.get("list_filtered", [])}.get(size):
            add(f"list_filtered.{size}.p50_ms", f"filtered list ({fl['count']} of {size} "
                "ports, by device_id)", "ms", "lower", fl["p50_ms"])
    for op in ("show", "update", "delete"):
        add(f"{op}.per_s", f"port {op}", "ops/s", "higher")
        add(f"{op}.p50_ms", f"port {op} p50", "ms", "lower")
        if op == "show":
            add("show.server_cpu_ms_per_op", "server CPU per port show", "ms", "lower")
    add("rss_idle.total_mb", "server RSS idle", "MB", "lower")
    add("rss_after.total_mb", "server RSS after run", "MB", "lower")
    return out


def ratios(fermion: dict[str, Any], neutron: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fermion/Neutron per metric, oriented so that > 1 means Fermion is better."""
    at = common_size(fermion, neutron)
    n = {m.key: m for m in headline(neutron, at)}
    out: dict[str, dict[str, Any]] = {}
    for fm in headline(fermion, at):
        nm = n.get(fm.key)
        if nm is None or fm.value is None or nm.value is None or (
                fm.key == "list_fit.ms_per_1000_ports"
                and list_sizes(fermion) != list_sizes(neutron)):  # fitted over other sizes
            continue
        a, b = (fm.value, nm.value) if fm.better == "higher" else (nm.value, fm.value)
        out[fm.key] = {"label": fm.label, "unit": fm.unit, "better": fm.better,
                       "fermion": fm.value, "neutron": nm.value,
                       "ratio": round(a / b, 2) if b else None}
    return out


def notes_for(name: str, res: dict[str, Any]) -> list[str]:
    title = TITLES[name]
    if "error" in res:
        return [f"{title} failed: {res['error'].splitlines()[0][:300]}"]
    notes, fill = [], res.get("fill", {})
    if fill.get("clones"):
        first = fill["clones"][0]
        notes.append(
            f"{title}: {fill['api_ports']} ports were made through its API (single and bulk "
            f"creates), the other {sum(c['added'] for c in fill['clones']):,} by copying its "
            f"bulk-created ports' rows in its database "
            f"({sum(c['seconds'] for c in fill['clones']):.0f} s; see `--api-fill`); before "
            "each list the API counted exactly the ports expected, and a copy shown through "
            f"the API had the same {first['attributes']} attributes as its original, equal "
            f"except {', '.join(first['differs'])}.")
    if fill.get("timed_out"):
        sizes = ", ".join(map(str, list_sizes(res))) or "no size"
        notes.append(
            f"{title}: the bulk fill stopped at {fill['reached']} ports when its "
            f"{fill['budget_s']:.0f} s budget ran out (`--api-fill-budget-s`), so its list "
            f"was measured only at {sizes} ports; show/update/delete ran at "
            f"{res.get('at_ports')} ports.")
    busy = res.get("machine_load", {}).get("other_processes_cores", 0.0)
    if busy >= h.BUSY_CORES:
        notes.append(
            f"{title}: other processes on this machine used {busy:.1f} CPUs on average during "
            "the run, so its wall-clock numbers are inflated; the server-CPU-per-operation "
            "rows are much less affected.")
    for phase in ("create_sequential", "create_concurrent", "bulk_create", "show", "update",
                  "delete"):
        if (p := res.get(phase, {})).get("errors"):
            notes.append(f"{title}: {phase} had {p['errors']} errors of {p['n']}, e.g. "
                         f"{(p.get('error_samples') or [''])[0][:160]}")
    return notes


def finish(report: dict[str, Any]) -> None:
    """Ratios and notes from the raw numbers."""
    servers = report["servers"]
    ok = {n: r for n, r in servers.items() if "error" not in r}
    both = "fermion" in ok and "neutron" in ok
    report["ratios"] = ratios(ok["fermion"], ok["neutron"]) if both else {}
    report["notes"] = [n for name in ORDER if name in servers
                       for n in notes_for(name, servers[name])]
    if both and list_sizes(ok["fermion"]) != list_sizes(ok["neutron"]):
        ranges = ", ".join(f"{TITLES[n]} {min(list_sizes(ok[n]), default=0)}–"
                           f"{max(list_sizes(ok[n]), default=0)}" for n in ORDER)
        report["notes"].append(f"The linear fits of list time cover different table sizes "
                               f"({ranges} ports), so they get no ratio.")


def section(report: dict[str, Any]) -> str:
    t, servers, cfg = h.texts("api"), report["servers"], report["config"]
    names = [n for n in ORDER if n in servers]
    at = common_size(*(servers[n] for n in names if "error" not in servers[n]))
    per = {n: {m.key: m for m in headline(servers[n], at)} if "error" not in servers[n] else {}
           for n in names}
    rows = []
    for k in dict.fromkeys(k for n in names for k in per[n]):
        metric = next(per[n][k] for n in names if k in per[n])
        r = report["ratios"].get(k, {}).get("ratio")
        rows.append((metric.label, *(fmt(m.value if (m := per.get(n, {}).get(k)) else None,
                                         metric.unit, 1) for n in ORDER),
                     f"{r:,.2f}×" if r is not None else "—"))
    fill = t["fill_clone"].format(**cfg) if cfg.get("fill", "api") == "clone" else ""
    head = t["head"].format(**cfg | {"fill": fill}, measured=h.measured_line(report),
                            client=report["client"])
    table_ = h.table(["metric", *(TITLES[n] for n in ORDER), "Fermion advantage"], rows)
    return "\n".join([head, "", *table_, *h.tail(report, t["tail"])]) + "\n"


SUITE = Suite("api", ApiConfig, run, finish, section, root=False)
