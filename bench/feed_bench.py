"""The change feed under load: 50 long-polling watchers, a database of 10,000 ports.

``run_feed_bench()`` (returns a dict; ``python -m bench.feed_bench`` prints it as JSON):

1. fills the server with ``ports`` ports (bulk creates on one network);
2. starts ``watchers`` threads, each long-polling ``GET /v2.0/fermion/changes`` over its own
   keep-alive connection from the current revision;
3. **live**: ``writers`` threads update ``writes`` distinct ports (one change each) as fast
   as the server takes them; every watcher must receive every one of those changes exactly
   once. Reported: deliveries per second over all watchers, and the write→watcher latency
   (from sending the write request to a watcher holding the change) p50/p99/max, and the
   same from the moment the writer got its answer (``after_ack_ms``);
4. **backlog**: all watchers re-read those changes from the starting revision at once (as
   agents catching up after a restart) — the feed's read throughput without waiting on
   writes.

Measured only through the HTTP API, like the other benchmarks; by default against a fresh
``fermion server`` (SQLite) started here (``bench.servers.FermionServer``). When the server
is local (started here, or passed in as ``server=``), the result also has its CPU time and
RSS and who used the machine's CPUs during live + backlog (``bench.proc.machine_load``).
``python -m bench.run --suite feed`` runs this with a 1-watcher baseline and writes the
report (``bench.feed_report``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.api_bench import percentile
from bench.proc import ManagedServer, machine_load

BULK = 500


class Connection:
    """One persistent HTTP/1.1 connection (a watcher's, or a writer's)."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):  # a kept-alive connection the server closed: reconnect once
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                return resp.status, json.loads(payload) if payload else None
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def expect(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.request(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path} -> {status}: {str(payload)[:300]}")
        return payload

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Watcher(threading.Thread):
    """Long-polls from ``since`` until it holds ``want`` (set later) or is told to stop."""

    def __init__(self, url: str, since: int, want: Callable[[], set[str] | None]) -> None:
        super().__init__(daemon=True)
        self.url, self.since, self.want = url, since, want
        self.received: dict[str, float] = {}  # port id → when this watcher had it
        self.duplicates = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        conn = Connection(self.url)
        try:
            while not self.stop.is_set():
                query = urlencode({"since": self.since, "timeout": 5, "limit": 1000})
                body = conn.expect("GET", f"/v2.0/fermion/changes?{query}")
                now = time.perf_counter()
                for change in body["changes"]:
                    if change["resource"] == "port" and change["action"] == "update":
                        if change["resource_id"] in self.received:
                            self.duplicates += 1
                        self.received[change["resource_id"]] = now
                self.since = body["revision"]
                want = self.want()
                if want is not None and want <= self.received.keys():
                    return
        except BaseException as error:
            self.error = error
        finally:
            conn.close()


def _revision(conn: Connection) -> int:
    return conn.expect("GET", "/v2.0/fermion/snapshot?host=feed-bench")["snapshot"]["revision"]


def _fill(conn: Connection, ports: int, log: Callable[[str], None]) -> list[str]:
    net = conn.expect("POST", "/v2.0/networks", {"network": {"name": "feed-bench"}})["network"]
    conn.expect("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": "10.128.0.0/16",
        "enable_dhcp": False}})
    ids: list[str] = []
    t0 = time.perf_counter()
    while len(ids) < ports:
        count = min(BULK, ports - len(ids))
        body = {"ports": [{"network_id": net["id"], "name": f"fb-{len(ids) + i}"}
                          for i in range(count)]}
        ids.extend(p["id"] for p in conn.expect("POST", "/v2.0/ports", body)["ports"])
    log(f"[feed] {ports} ports created in {time.perf_counter() - t0:.1f} s")
    return ids


def _latency_ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"p50": round(percentile(ms, 50), 2), "p99": round(percentile(ms, 99), 2),
            "max": round(max(ms), 2)} if ms else {}


def _live(url: str, start: int, targets: list[str], watchers: int, writers: int,
          timeout: float) -> tuple[dict[str, Any], list[Watcher]]:
    want: set[str] | None = None
    threads = [Watcher(url, start, lambda: want) for _ in range(watchers)]
    for w in threads:
        w.start()
    time.sleep(0.5)  # all watchers are waiting
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    write_s: list[float] = []
    errors: list[BaseException] = []
    parts = [targets[i::writers] for i in range(writers)]

    def write(ids: list[str]) -> None:
        conn = Connection(url)
        try:
            for port_id in ids:
                t0 = time.perf_counter()
                sent[port_id] = t0
                conn.expect("PUT", f"/v2.0/ports/{port_id}", {"port": {"name": "touched"}})
                acked[port_id] = time.perf_counter()
                write_s.append(acked[port_id] - t0)
        except BaseException as error:
            errors.append(error)
        finally:
            conn.close()

    t0 = time.perf_counter()
    pool = [threading.Thread(target=write, args=(ids,), daemon=True) for ids in parts]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    writes_done = time.perf_counter()
    if errors:
        raise errors[0]
    want = set(targets)
    deadline = time.monotonic() + timeout
    for w in threads:
        w.join(max(0.0, deadline - time.monotonic()))
    last = max((max(w.received.values(), default=t0) for w in threads), default=t0)
    latencies = [when - sent[pid] for w in threads for pid, when in w.received.items()
                 if pid in sent]
    after_ack = [when - acked[pid] for w in threads for pid, when in w.received.items()
                 if pid in acked]
    complete = sum(1 for w in threads if want <= w.received.keys() and not w.error)
    deliveries = sum(len(want & w.received.keys()) for w in threads)
    return {
        "writes": len(targets), "writers": writers,
        "write_rate_per_s": round(len(targets) / (writes_done - t0), 1),
        "write_latency_ms": _latency_ms(write_s),
        "deliveries": deliveries,
        "wall_s": round(last - t0, 3),
        "deliveries_per_s": round(deliveries / (last - t0), 1),
        "latency_ms": _latency_ms(latencies),
        # from the writer's 200 (the commit is earlier still): negative when a watcher had
        # the change before the writer had its answer
        "after_ack_ms": _latency_ms(after_ack),
        "watchers_complete": complete,
        "duplicates": sum(w.duplicates for w in threads),
        "errors": [repr(w.error) for w in threads if w.error][:3],
    }, threads


def _backlog(url: str, start: int, targets: list[str], watchers: int,
             timeout: float) -> dict[str, Any]:
    want = set(targets)
    threads = [Watcher(url, start, lambda: want) for _ in range(watchers)]
    t0 = time.perf_counter()
    for w in threads:
        w.start()
    deadline = time.monotonic() + timeout
    for w in threads:
        w.join(max(0.0, deadline - time.monotonic()))
    wall = time.perf_counter() - t0
    for w in threads:  # any still polling after the timeout: stop after their next answer
        w.stop.set()
    deliveries = sum(len(want & w.received.keys()) for w in threads)
    return {"changes": len(targets), "deliveries": deliveries, "wall_s": round(wall, 3),
            "deliveries_per_s": round(deliveries / wall, 1),
            "watchers_complete": sum(1 for w in threads if want <= w.received.keys())}


def run_feed_bench(url: str | None = None, watchers: int = 50, ports: int = 10000,
                   writes: int = 1000, writers: int = 4, timeout: float = 300.0,
                   log: Callable[[str], None] = print,
                   server: ManagedServer | None = None) -> dict[str, Any]:
    """Run the benchmark against ``url`` (a fresh local server when None); see the module.

    ``server``: an already started server to run against instead (its CPU time and RSS
    are reported too; the caller stops it).
    """
    owned = server is None and url is None
    if owned:
        from bench.servers import FermionServer

        server = FermionServer(log=log)
        server.start()
    if server is not None:
        url = server.url
    assert url is not None
    try:
        conn = Connection(url)
        ids = _fill(conn, ports, log)
        start = _revision(conn)
        conn.close()
        targets = random.Random(7).sample(ids, min(writes, len(ids)))
        cpu0 = server.cpu_s() if server else None
        # CPU use by the server, this client and everyone else over live + backlog
        meter = machine_load(server) if server else contextlib.nullcontext({})
        with meter as load:
            live, live_watchers = _live(url, start, targets, watchers, writers, timeout)
            for w in live_watchers:  # any still polling after the timeout
                w.stop.set()
            log(f"[feed] live: {live['deliveries_per_s']} deliveries/s, latency "
                f"{live['latency_ms']}")
            backlog = _backlog(url, start, targets, watchers, timeout)
            log(f"[feed] backlog: {backlog['deliveries_per_s']} deliveries/s")
        out: dict[str, Any] = {"watchers": watchers, "ports_in_db": ports, "live": live,
                               "backlog": backlog}
        if server is not None:
            out["server"] = server.version()
            out["server_cpu_s"] = round(server.cpu_s() - cpu0, 2)
            out["server_rss_mb"] = server.rss()["total_mb"]
            out["machine_load"] = load
        return out
    finally:
        if owned and server is not None:
            server.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--watchers", type=int, default=50)
    parser.add_argument("--ports", type=int, default=10000)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(run_feed_bench(args.url, args.watchers, args.ports, args.writes,
                                    args.writers), indent=2))
