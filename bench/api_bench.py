"""Client-side benchmark of a Neutron v2.0 API endpoint (any server that speaks it).

Plain JSON over HTTP with the stdlib, one new TCP connection per request
(``Connection: close``), so the same client path serves every server — upstream under
uWSGI needs it. A request's latency is the time to the last byte of the response; JSON
decoding on the client is not counted.

What it does, in order, against one fresh server:

1. one network and a /16 IPv4 subnet (room for 65k ports);
2. ``create_sequential``: N single-port creates one after another;
3. ``create_concurrent``: N single-port creates from C client threads;
4. ``fill``: bulk creates (``POST /v2.0/ports`` with ``{"ports": [...]}``) up to each
   list size, within a time budget; at each size reached: ``GET /v2.0/ports`` (all of
   them) and a filtered list by ``device_id`` that matches ``group`` ports. With a
   ``clone`` function (``fill="clone"``; upstream's ``NeutronPeer.clone_ports``), the bulk
   creates stop at ``clone_from`` ports and the rest are copies of the bulk-created ports
   written into the server's database, checked through the API before any list is timed
   (the count, and a copy shown next to its original);
5. ``show``, ``update`` (name), ``delete``: M each on distinct ports, one after another;
6. server RSS (VmRSS summed over its processes) when idle and after the run.

``python -m bench.api_bench URL [--pid PID]`` runs it against a server that is already up.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

DEFAULT_LIST_SIZES = (500, 1000, 2000, 5000, 10000)


class Reporter(Protocol):
    def log(self, msg: str) -> None: ...

    def task(self, desc: str, total: int) -> contextlib.AbstractContextManager[
        Callable[[int], None]]: ...


class PlainReporter:
    """Progress as plain lines (about every 10% of a task)."""

    def log(self, msg: str) -> None:
        print(msg, flush=True)

    @contextlib.contextmanager
    def task(self, desc: str, total: int) -> Iterator[Callable[[int], None]]:
        done = 0
        step = max(1, total // 10)
        mark = step
        t0 = time.monotonic()

        def advance(n: int) -> None:
            nonlocal done, mark
            done += n
            if done >= mark or done >= total:
                print(f"  {desc}: {done}/{total} ({time.monotonic() - t0:.1f}s)", flush=True)
                while mark <= done:
                    mark += step

        yield advance


@dataclass
class BenchConfig:
    create_sequential: int = 200
    create_concurrent: int = 200
    clients: int = 8
    list_sizes: tuple[int, ...] = DEFAULT_LIST_SIZES
    bulk_size: int = 100
    fill_budget_s: float = 900.0
    list_repeats: int = 3
    group: int = 50            # ports per device_id: what the filtered list matches
    ops: int = 200             # show / update / delete each
    fill: str = "api"          # "clone": past clone_from ports, copy rows (servers that can)
    clone_from: int = 1000
    timeout_s: float = 600.0   # one request
    seed: int = 1

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["list_sizes"] = list(self.list_sizes)
        return d


class ApiError(RuntimeError):
    pass


# clone(network_id, template port ids, names, device_ids) -> ids of the new ports
Clone = Callable[[str, list[str], list[str], list[str]], list[str]]
# A copy differs from its original in these attributes only (fixed_ips: the addresses).
CLONE_VARIES = frozenset({"id", "name", "mac_address", "device_id", "fixed_ips",
                          "dns_assignment"})


@dataclass
class Response:
    status: int
    body: bytes
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Client:
    """Neutron v2.0 over a fresh HTTP/1.1 connection per request."""

    def __init__(self, url: str, timeout: float = 600.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Response:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", "Connection": "close"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            t0 = time.perf_counter()
            conn.request(method, self.prefix + path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            elapsed = time.perf_counter() - t0
        finally:
            conn.close()
        return Response(resp.status, payload, elapsed)

    def expect(self, method: str, path: str, body: Any = None,
               ok: Sequence[int] = (200, 201, 204)) -> Response:
        r = self.request(method, path, body)
        if r.status not in ok:
            raise ApiError(f"{method} {path} -> {r.status}: {r.body[:300]!r}")
        return r


# -- statistics ---------------------------------------------------------------------------

def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank-interpolated percentile (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class OpStats:
    """Latencies of one kind of operation plus the wall time they took together."""

    n: int = 0
    errors: int = 0
    wall_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, elapsed: float, ok: bool, err: str = "") -> None:
        with self._lock:
            self.n += 1
            if ok:
                self.latencies.append(elapsed)
            else:
                self.errors += 1
                if len(self.error_samples) < 3:
                    self.error_samples.append(err[:300])

    def summary(self, unit_per_op: int = 1) -> dict[str, Any]:
        ok = len(self.latencies)
        ms = [x * 1000 for x in self.latencies]
        out: dict[str, Any] = {
            "n": self.n, "ok": ok, "errors": self.errors, "wall_s": round(self.wall_s, 3),
            "per_s": round(ok * unit_per_op / self.wall_s, 2) if self.wall_s else None,
            "p50_ms": round(percentile(ms, 50), 2) if ms else None,
            "p99_ms": round(percentile(ms, 99), 2) if ms else None,
            "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
        }
        if self.error_samples:
            out["error_samples"] = self.error_samples
        return out


def linear_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float, float] | None:
    """Least squares y = a + b·x; returns (a, b, r²) or None with < 2 points."""
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    b = sxy / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = 1 - ss_res / ss_tot if ss_tot else 1.0
    return a, b, r2


# -- the benchmark ------------------------------------------------------------------------

class ApiBench:
    def __init__(self, url: str, cfg: BenchConfig, reporter: Reporter | None = None,
                 rss: Callable[[], dict[str, Any]] | None = None,
                 cpu: Callable[[], float] | None = None,
                 clone: Clone | None = None) -> None:
        self.client = Client(url, timeout=cfg.timeout_s)
        self.clone = clone if cfg.fill == "clone" else None
        self.cfg = cfg
        self.rep = reporter or PlainReporter()
        self.rss = rss
        self.cpu = cpu
        self.rng = random.Random(cfg.seed)
        self.network_id = ""
        self.subnet_id = ""
        self.port_ids: list[str] = []     # every port this run created and has not deleted
        self.bulk_count = 0                # ports created by the fill (they carry device_id)
        self.bulk_ids: list[str] = []      # of those, the ones the API created
        self._ids_lock = threading.Lock()

    # -- helpers ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _server_cpu(self, out: dict[str, Any], per: Callable[[], int]) -> Iterator[None]:
        """Add ``server_cpu_ms_per_op`` (server CPU over the block / ``per()``) to out."""
        c0 = self.cpu() if self.cpu else None
        yield
        if c0 is not None and self.cpu:
            n = per()
            out["server_cpu_ms_per_op"] = (round((self.cpu() - c0) * 1000 / n, 2)
                                           if n else None)

    def _port_body(self, name: str, device_id: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"network_id": self.network_id, "name": name,
                                "admin_state_up": True}
        if device_id:
            body["device_id"] = device_id
        return body

    def _create_one(self, name: str, stats: OpStats) -> None:
        try:
            r = self.client.request("POST", "/v2.0/ports", {"port": self._port_body(name)})
        except (OSError, http.client.HTTPException) as exc:
            stats.record(0.0, False, f"{type(exc).__name__}: {exc}")
            return
        ok = r.status == 201
        if ok:
            with self._ids_lock:
                self.port_ids.append(r.json()["port"]["id"])
        stats.record(r.elapsed, ok, f"{r.status}: {r.body[:300]!r}")

    def _count_ports(self) -> int:
        return len(self.client.expect("GET", "/v2.0/ports?" + urlencode(
            {"fields": "id", "network_id": self.network_id})).json()["ports"])

    # -- phases -------------------------------------------------------------------------
    def setup(self) -> dict[str, Any]:
        r = self.client.expect("POST", "/v2.0/networks",
                               {"network": {"name": "bench-net", "admin_state_up": True}})
        net = r.json()["network"]
        self.network_id = net["id"]
        r2 = self.client.expect("POST", "/v2.0/subnets", {"subnet": {
            "network_id": self.network_id, "name": "bench-subnet", "ip_version": 4,
            "cidr": "10.0.0.0/16", "enable_dhcp": False}})
        self.subnet_id = r2.json()["subnet"]["id"]
        return {"network_create_ms": round(r.elapsed * 1000, 2),
                "subnet_create_ms": round(r2.elapsed * 1000, 2),
                "network_type": net.get("provider:network_type")}

    def create_sequential(self) -> dict[str, Any]:
        n = self.cfg.create_sequential
        stats, cpu = OpStats(), {}
        with self.rep.task("create sequential", n) as advance, \
                self._server_cpu(cpu, lambda: len(stats.latencies)):
            t0 = time.perf_counter()
            for i in range(n):
                self._create_one(f"seq-{i}", stats)
                advance(1)
            stats.wall_s = time.perf_counter() - t0
        return stats.summary() | cpu

    def create_concurrent(self) -> dict[str, Any]:
        n, c = self.cfg.create_concurrent, self.cfg.clients
        stats, cpu = OpStats(), {}
        with self.rep.task(f"create with {c} clients", n) as advance, \
                self._server_cpu(cpu, lambda: len(stats.latencies)):
            lock = threading.Lock()

            stop = threading.Event()  # set on Ctrl-C, so the workers quit early

            def worker(k: int) -> None:
                for i in range(k, n, c):
                    if stop.is_set():
                        return
                    self._create_one(f"conc-{i}", stats)
                    with lock:
                        advance(1)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=c) as pool:
                try:
                    list(pool.map(worker, range(c)))
                except BaseException:
                    stop.set()
                    raise
            stats.wall_s = time.perf_counter() - t0
        return stats.summary() | cpu | {"clients": c}

    def _bulk_create(self, count: int, stats: OpStats) -> int:
        start = self.bulk_count
        ports = [self._port_body(f"bulk-{start + j}", f"bench-dev-{(start + j) // self.cfg.group}")
                 for j in range(count)]
        try:
            r = self.client.request("POST", "/v2.0/ports", {"ports": ports})
        except (OSError, http.client.HTTPException) as exc:
            stats.record(0.0, False, f"{type(exc).__name__}: {exc}")
            return 0
        if r.status != 201:
            stats.record(r.elapsed, False, f"{r.status}: {r.body[:300]!r}")
            return 0
        created = [p["id"] for p in r.json()["ports"]]
        stats.record(r.elapsed, True)
        self.port_ids.extend(created)
        self.bulk_ids.extend(created)
        self.bulk_count += len(created)
        return len(created)

    def _timed_list(self, query: dict[str, str]) -> dict[str, Any]:
        path = "/v2.0/ports" + ("?" + urlencode(query) if query else "")
        times, count, nbytes, cpu = [], 0, 0, {}
        with self._server_cpu(cpu, lambda: len(times)):
            for _ in range(self.cfg.list_repeats):
                r = self.client.expect("GET", path)
                times.append(r.elapsed * 1000)
                count, nbytes = len(r.json()["ports"]), len(r.body)
        return {"count": count, "bytes": nbytes, "repeats": len(times),
                "p50_ms": round(statistics.median(times), 2), "min_ms": round(min(times), 2),
                "max_ms": round(max(times), 2)} | cpu

    def _clone_to(self, size: int, count: int) -> dict[str, Any]:
        """Copy bulk-created ports in the database up to ``size`` ports, then check."""
        assert self.clone is not None
        n = size - count
        start = self.bulk_count
        names = [f"bulk-{start + j}" for j in range(n)]
        devices = [f"bench-dev-{(start + j) // self.cfg.group}" for j in range(n)]
        t0 = time.perf_counter()
        created = self.clone(self.network_id, self.bulk_ids, names, devices)
        spent = time.perf_counter() - t0
        self.port_ids.extend(created)
        self.bulk_count += len(created)
        seen = self._count_ports()
        if seen != size:
            raise ApiError(f"after copying {n} ports the API lists {seen} ports, not {size}")
        check = self._compare_clone(self.bulk_ids[0], created[0])
        self.rep.log(f"  copied {n} ports in {spent:.1f}s; the API lists {seen}; a copy "
                     f"matches its original except {', '.join(check['differs'])}")
        return {"ports": size, "added": n, "seconds": round(spent, 2), "api_count": seen,
                **check}

    def _compare_clone(self, original: str, copy: str) -> dict[str, Any]:
        """A copy, shown through the API, next to its original: the same attributes with the
        same values, except those that must differ (``CLONE_VARIES``)."""
        a = self.client.expect("GET", f"/v2.0/ports/{original}").json()["port"]
        b = self.client.expect("GET", f"/v2.0/ports/{copy}").json()["port"]
        if set(a) != set(b):
            raise ApiError(f"copy {copy} has attributes {sorted(set(a) ^ set(b))} that its "
                           f"original {original} has not (or the other way round)")
        wrong = [k for k in a if k not in CLONE_VARIES and a[k] != b[k]]
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
        cfg = self.cfg
        stats = OpStats()
        lists: list[dict[str, Any]] = []
        filtered: list[dict[str, Any]] = []
        skipped: list[int] = []
        clones: list[dict[str, Any]] = []
        count = self._count_ports()
        target = max(cfg.list_sizes) if cfg.list_sizes else count
        budget_end = time.monotonic() + cfg.fill_budget_s
        timed_out = False
        failures_in_row = 0
        t_fill = cpu_fill = 0.0
        with self.rep.task(f"bulk fill to {target} ports ({cfg.bulk_size}/request)",
                           max(0, target - count)) as advance:
            for size in sorted(cfg.list_sizes):
                if size < count:
                    skipped.append(size)
                    continue
                while count < size and not timed_out:
                    api_target = size
                    if self.clone is not None:  # the API makes the first clone_from ports
                        api_target = min(size, cfg.clone_from)
                        if not self.bulk_ids:  # and at least one bulk request: templates
                            api_target = max(api_target, min(size, count + cfg.bulk_size))
                    out_of_time = time.monotonic() > budget_end
                    if self.clone is not None and self.bulk_ids and (count >= api_target
                                                                     or out_of_time):
                        clones.append(self._clone_to(size, count))
                        advance(size - count)
                        count = size
                        break
                    if out_of_time:
                        timed_out = True
                        break
                    t0, c0 = time.perf_counter(), self.cpu() if self.cpu else 0.0
                    made = self._bulk_create(min(cfg.bulk_size, api_target - count), stats)
                    t_fill += time.perf_counter() - t0
                    cpu_fill += (self.cpu() - c0) if self.cpu else 0.0
                    count += made
                    advance(made)
                    failures_in_row = 0 if made else failures_in_row + 1
                    if failures_in_row >= 3:
                        raise ApiError(f"bulk create failing: {stats.error_samples}")
                if count < size:
                    break
                self.rep.log(f"  list at {size} ports ...")
                entry = {"ports": size, **self._timed_list({})}
                lists.append(entry)
                fentry = {"ports": size, **self._timed_list({"device_id": "bench-dev-0"})}
                filtered.append(fentry)
                self.rep.log(f"  list {size} ports: {entry['p50_ms']:.1f} ms "
                             f"({entry['bytes'] / 1e6:.1f} MB), filtered ({fentry['count']}): "
                             f"{fentry['p50_ms']:.1f} ms")
        stats.wall_s = t_fill
        api_made = len(self.bulk_ids)
        bulk = stats.summary(unit_per_op=1)
        bulk["per_s"] = round(api_made / t_fill, 2) if t_fill else None  # ports/s
        bulk.update({"bulk_size": cfg.bulk_size, "ports": api_made, "requests_per_s": round(
            len(stats.latencies) / t_fill, 3) if t_fill else None})
        if self.cpu and api_made:
            bulk["server_cpu_ms_per_op"] = round(cpu_fill * 1000 / api_made, 2)
        fit = linear_fit([(e["ports"], e["p50_ms"]) for e in lists])
        fill: dict[str, Any] = {"target": target, "reached": count, "timed_out": timed_out,
                                "budget_s": cfg.fill_budget_s, "sizes_skipped": skipped,
                                "method": "api+clone" if clones else "api",
                                "api_ports": count - sum(c["added"] for c in clones)}
        if clones:
            fill["clones"] = clones
        return {
            "bulk_create": bulk,
            "fill": fill,
            "list": lists,
            "list_fit": None if fit is None else {
                "intercept_ms": round(fit[0], 2), "ms_per_1000_ports": round(fit[1] * 1000, 2),
                "r2": round(fit[2], 4)},
            "list_filtered": filtered,
        }

    def _ops(self, desc: str, ids: Sequence[str],
             call: Callable[[int, str], Response], ok: Sequence[int]) -> dict[str, Any]:
        stats, cpu = OpStats(), {}
        with self.rep.task(desc, len(ids)) as advance, \
                self._server_cpu(cpu, lambda: len(stats.latencies)):
            t0 = time.perf_counter()
            for i, pid in enumerate(ids):
                try:
                    r = call(i, pid)
                    stats.record(r.elapsed, r.status in ok, f"{r.status}: {r.body[:300]!r}")
                except (OSError, http.client.HTTPException) as exc:
                    stats.record(0.0, False, f"{type(exc).__name__}: {exc}")
                advance(1)
            stats.wall_s = time.perf_counter() - t0
        return stats.summary() | cpu

    def show_update_delete(self) -> dict[str, Any]:
        m = min(self.cfg.ops, len(self.port_ids) // 3)
        picked = self.rng.sample(self.port_ids, 3 * m)
        shows, updates, deletes = picked[:m], picked[m:2 * m], picked[2 * m:]
        c = self.client
        out = {
            "at_ports": len(self.port_ids),
            "show": self._ops("show", shows, lambda i, p: c.request(
                "GET", f"/v2.0/ports/{p}"), (200,)),
            "update": self._ops("update name", updates, lambda i, p: c.request(
                "PUT", f"/v2.0/ports/{p}", {"port": {"name": f"upd-{i}"}}), (200,)),
            "delete": self._ops("delete", deletes, lambda i, p: c.request(
                "DELETE", f"/v2.0/ports/{p}"), (204,)),
        }
        gone = set(deletes)
        self.port_ids = [p for p in self.port_ids if p not in gone]
        return out

    def run(self) -> dict[str, Any]:
        res: dict[str, Any] = {}
        if self.rss:
            res["rss_idle"] = self.rss()
        res["setup"] = self.setup()
        self.rep.log(f"  network {self.network_id} ({res['setup']['network_type']}), "
                     f"subnet 10.0.0.0/16")
        res["create_sequential"] = self.create_sequential()
        res["create_concurrent"] = self.create_concurrent()
        res.update(self.fill_and_list())
        res.update(self.show_update_delete())
        if self.rss:
            res["rss_after"] = self.rss()
        return res


# -- headline metrics and ratios -----------------------------------------------------------

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
    sets = [set(list_sizes(r)) for r in results]
    common = set.intersection(*sets) if sets else set()
    return max(common) if common else None


def headline(res: dict[str, Any], at_size: int | None = None) -> list[Metric]:
    """The numbers worth comparing, flattened, in table order.

    Server CPU per list and the filtered list are given at one table size: ``at_size``
    (pass the largest size both servers reached) or else this result's largest.
    """
    out: list[Metric] = []

    def add(key: str, label: str, value: Any, unit: str, better: str) -> None:
        out.append(Metric(key, label, None if value is None else float(value), unit, better))

    def get(*path: str) -> Any:
        cur: Any = res
        for p in path:
            if not isinstance(cur, dict) or p not in cur:
                return None
            cur = cur[p]
        return cur

    add("startup_s", "ready after start", res.get("startup_s"), "s", "lower")
    for phase, label in (("create_sequential", "port create, sequential"),
                         ("create_concurrent", "port create, concurrent clients")):
        add(f"{phase}.per_s", f"{label}", get(phase, "per_s"), "ports/s", "higher")
        add(f"{phase}.p50_ms", f"{label} p50", get(phase, "p50_ms"), "ms", "lower")
        add(f"{phase}.p99_ms", f"{label} p99", get(phase, "p99_ms"), "ms", "lower")
        if phase == "create_sequential":
            add(f"{phase}.server_cpu_ms_per_op", "server CPU per port create",
                get(phase, "server_cpu_ms_per_op"), "ms", "lower")
    add("bulk_create.per_s", "port create, bulk", get("bulk_create", "per_s"), "ports/s",
        "higher")
    lists = {e["ports"]: e for e in res.get("list", [])}
    for size, e in lists.items():
        add(f"list.{size}.p50_ms", f"list {size} ports", e["p50_ms"], "ms", "lower")
    add("list_fit.ms_per_1000_ports", "list cost per 1000 ports (linear fit)",
        get("list_fit", "ms_per_1000_ports"), "ms", "lower")
    size = at_size if at_size in lists else max(lists, default=None)
    if size is not None:
        add(f"list.{size}.server_cpu_ms", f"server CPU per list of {size} ports",
            lists[size].get("server_cpu_ms_per_op"), "ms", "lower")
        fl = {e["ports"]: e for e in res.get("list_filtered", [])}.get(size)
        if fl:
            add(f"list_filtered.{size}.p50_ms",
                f"filtered list ({fl['count']} of {size} ports, by device_id)",
                fl["p50_ms"], "ms", "lower")
    for op in ("show", "update", "delete"):
        add(f"{op}.per_s", f"port {op}", get(op, "per_s"), "ops/s", "higher")
        add(f"{op}.p50_ms", f"port {op} p50", get(op, "p50_ms"), "ms", "lower")
        if op == "show":
            add("show.server_cpu_ms_per_op", "server CPU per port show",
                get("show", "server_cpu_ms_per_op"), "ms", "lower")
    add("rss_idle.total_mb", "server RSS idle", get("rss_idle", "total_mb"), "MB", "lower")
    add("rss_after.total_mb", "server RSS after run", get("rss_after", "total_mb"), "MB",
        "lower")
    return out


def ratios(fermion: dict[str, Any], neutron: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fermion/Neutron per metric, oriented so that > 1 means Fermion is better."""
    at = common_size(fermion, neutron)
    f = {m.key: m for m in headline(fermion, at)}
    n = {m.key: m for m in headline(neutron, at)}
    same_sizes = list_sizes(fermion) == list_sizes(neutron)
    out: dict[str, dict[str, Any]] = {}
    for key, fm in f.items():
        nm = n.get(key)
        if nm is None or fm.value is None or nm.value is None:
            continue
        if key == "list_fit.ms_per_1000_ports" and not same_sizes:
            continue  # fitted over different ranges of table sizes
        if fm.better == "higher":
            r = fm.value / nm.value if nm.value else None
        else:
            r = nm.value / fm.value if fm.value else None
        out[key] = {"label": fm.label, "unit": fm.unit, "better": fm.better,
                    "fermion": fm.value, "neutron": nm.value,
                    "ratio": None if r is None else round(r, 2)}
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="API endpoint, e.g. http://127.0.0.1:9696")
    ap.add_argument("--pid", type=int, help="server pid, for RSS (sums its process tree)")
    ap.add_argument("--ports", type=int, default=200, help="sequential and concurrent creates")
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_LIST_SIZES)))
    ap.add_argument("--fill-budget", type=float, default=900.0)
    args = ap.parse_args(argv)
    rss = cpu = None
    if args.pid:
        from bench.proc import tree_cpu_s, tree_rss_kb
        pid = args.pid

        def rss() -> dict[str, Any]:
            return tree_rss_kb(pid)

        def cpu() -> float:
            return tree_cpu_s(pid)

    cfg = BenchConfig(create_sequential=args.ports, create_concurrent=args.ports,
                      list_sizes=tuple(int(s) for s in args.sizes.split(",") if s),
                      fill_budget_s=args.fill_budget)
    res = ApiBench(args.url, cfg, rss=rss, cpu=cpu).run()
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
