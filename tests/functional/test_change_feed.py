"""The change feed under concurrent writers: every watcher sees every change exactly once.

Acceptance (docs/change-feed.md): 20 writer threads create, update and delete networks and
ports while 5 watchers long-poll ``GET /v2.0/fermion/changes``; afterwards each watcher's
list equals the ``changes`` table after its start revision — same revisions, same order,
nothing skipped or repeated. One watcher is restarted mid-stream on another server and
resumes from its last revision. On PostgreSQL two `fermion server` processes share the
database, writers and watchers are spread over both, and the servers' safety poll is set to
a minute, so a watcher on one server only learns of a write through the other by
LISTEN/NOTIFY. On SQLite the same with one server. Behind the retention window
(``[fermion] change_log_size``) the answer is 410 ResyncRequired.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

WRITERS = 20
WATCHERS = 5
ROUNDS = 4  # per writer: network + port create, update both, delete both
BATCH = 7  # watchers ask for few changes at a time: many batches, many resumptions
DEADLINE = 120.0
NO_POLL = {("neutron.conf", "fermion"): {"change_poll_interval": 60}}
# debug logging: a server says when a watcher's long poll starts waiting
WATCHED = {**NO_POLL, ("neutron.conf", "DEFAULT"): {"debug": True}}


def _wait_until_waiting(server, since: int, thread: threading.Thread) -> None:
    """Until `server` has the long poll for changes after `since` waiting (its debug log)."""
    needle = f"watcher since revision {since} waits"
    deadline = time.monotonic() + 15
    while needle not in server.log_path.read_text(errors="replace"):
        assert thread.is_alive(), "the watcher returned before it waited"
        assert time.monotonic() < deadline, f"no {needle!r}\n{server.log_tail()}"
        time.sleep(0.05)


def _db_url(server) -> str:
    return server.db_url or f"sqlite:///{server.workdir}/fermion.sqlite"


def _table(server, after: int = 0) -> list[tuple]:
    engine = sa.create_engine(_db_url(server))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT revision, resource, resource_id, action FROM changes "
                "WHERE revision > :after ORDER BY revision"), {"after": after})]
    finally:
        engine.dispose()


def _revision(server) -> int:
    with server.client() as c:
        r = c.get("/v2.0/fermion/snapshot", params={"host": "nowhere"})
        assert r.status_code == 200, r.text
        return r.json()["snapshot"]["revision"]


@dataclass
class Watcher:
    servers: list  # the first is used first; a restart moves to the next
    since: int
    restart_after: int | None = None
    seen: list[tuple] = field(default_factory=list)
    errors: list = field(default_factory=list)
    restarts: int = 0
    target: int | None = None  # stop once this revision has been seen
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        deadline = time.monotonic() + DEADLINE
        server_index = 0
        try:
            while time.monotonic() < deadline:
                client = self.servers[server_index % len(self.servers)].client(timeout=30)
                restart = False
                with client:
                    while time.monotonic() < deadline:
                        if self.target is not None and self.since >= self.target:
                            return
                        r = client.get("/v2.0/fermion/changes", params={
                            "since": self.since, "timeout": 2, "limit": BATCH})
                        assert r.status_code == 200, r.text
                        body = r.json()
                        for c in body["changes"]:
                            self.seen.append((c["revision"], c["resource"], c["resource_id"],
                                              c["action"]))
                        assert len(body["changes"]) <= BATCH
                        self.since = body["revision"]
                        if (self.restart_after is not None and not self.restarts
                                and len(self.seen) >= self.restart_after):
                            restart = True
                            break
                if restart:  # a new process: new connection, maybe another server
                    self.restarts += 1
                    server_index += 1
                    continue
            raise AssertionError(f"watcher stopped at {self.since}, target {self.target}")
        except BaseException as error:  # reported by the test
            self.errors.append(error)
        finally:
            self.done.set()


def _writer(server_a, server_b, index: int, errors: list) -> None:
    """Networks and ports through both servers; every answer must be the expected one."""
    try:
        with server_a.client() as a, server_b.client() as b:
            for n in range(ROUNDS):
                r = a.post("/v2.0/networks", json={"network": {
                    "name": f"w{index}-{n}", "provider:network_type": "local"}})
                assert r.status_code == 201, r.text
                net = r.json()["network"]["id"]
                r = b.post("/v2.0/ports", json={"port": {"network_id": net,
                                                         "name": f"p{index}-{n}"}})
                assert r.status_code == 201, r.text
                port = r.json()["port"]["id"]
                r = b.put(f"/v2.0/ports/{port}", json={"port": {"name": "renamed"}})
                assert r.status_code == 200, r.text
                r = a.put(f"/v2.0/networks/{net}", json={"network": {"name": "renamed"}})
                assert r.status_code == 200, r.text
                assert a.delete(f"/v2.0/ports/{port}").status_code == 204
                assert b.delete(f"/v2.0/networks/{net}").status_code == 204
    except BaseException as error:
        errors.append(error)


def _run(servers: list) -> None:
    start = _revision(servers[0])
    watchers = []
    for i in range(WATCHERS):
        order = servers[i % len(servers):] + servers[:i % len(servers)]
        watchers.append(Watcher(order, since=start,
                                restart_after=ROUNDS * WRITERS if i == 0 else None))
    threads = [threading.Thread(target=w.run, daemon=True) for w in watchers]
    for t in threads:
        t.start()
    errors: list = []
    writers = [threading.Thread(target=_writer, daemon=True, args=(
        servers[i % len(servers)], servers[(i + 1) % len(servers)], i, errors))
        for i in range(WRITERS)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(DEADLINE)
    assert not errors, errors[0]
    expected = _table(servers[0], start)
    # each round: 2 creates, 2 updates, 2 deletes (at least)
    assert len(expected) >= WRITERS * ROUNDS * 6
    for w in watchers:
        w.target = expected[-1][0]
    for w in watchers:
        assert w.done.wait(DEADLINE), "watcher did not finish"
    for i, w in enumerate(watchers):
        assert not w.errors, w.errors[0]
        revisions = [s[0] for s in w.seen]
        assert revisions == sorted(set(revisions)), f"watcher {i}: out of order or repeated"
        missing = sorted(set(e[0] for e in expected) - set(revisions))
        assert not missing, f"watcher {i} missed revisions {missing[:10]}"
        assert w.seen == expected, f"watcher {i} saw something else than the table"
    assert watchers[0].restarts == 1


def test_every_watcher_sees_every_change_postgresql(fermion_server, postgres_url):
    a = fermion_server(db_url=postgres_url, extra_conf=NO_POLL)
    b = fermion_server(db_url=postgres_url, extra_conf=NO_POLL)
    _run([a, b])


def test_every_watcher_sees_every_change_sqlite(fermion_server):
    _run([fermion_server(extra_conf=NO_POLL)])


def test_write_on_one_server_wakes_watcher_on_other(fermion_server, postgres_url):
    a = fermion_server(db_url=postgres_url, extra_conf=NO_POLL)
    b = fermion_server(db_url=postgres_url, extra_conf=WATCHED)
    since = _revision(a)
    result: dict = {}

    def watch() -> None:
        with b.client() as c:
            t0 = time.monotonic()
            r = c.get("/v2.0/fermion/changes", params={"since": since, "timeout": 30})
            result.update(status=r.status_code, body=r.json(), waited=time.monotonic() - t0)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _wait_until_waiting(b, since, watcher)
    with a.client() as c:
        t_write = time.monotonic()
        r = c.post("/v2.0/networks", json={"network": {"name": "wake"}})
        assert r.status_code == 201
        net = r.json()["network"]["id"]
    watcher.join(35)
    assert result["status"] == 200
    assert [(ch["resource"], ch["resource_id"], ch["action"]) for ch in result["body"][
        "changes"]] == [("network", net, "create")]
    assert result["waited"] < 30
    assert time.monotonic() - t_write < 5  # woken by NOTIFY, not by the timeout or a poll
    # a server started later holds nothing in memory: it reads the older changes from the
    # table, and agrees with the others
    c = fermion_server(db_url=postgres_url, extra_conf=NO_POLL)
    with c.client() as client:
        r = client.get("/v2.0/fermion/changes", params={"since": 0, "timeout": 0})
        assert r.status_code == 200
        assert [(ch["revision"], ch["resource"], ch["resource_id"], ch["action"])
                for ch in r.json()["changes"]] == _table(a)


def test_resync_when_behind_retention(fermion_server):
    server = fermion_server(extra_conf={("neutron.conf", "fermion"): {"change_log_size": 5}})
    with server.client() as c:
        for i in range(12):
            assert c.post("/v2.0/networks", json={"network": {"name": f"n{i}"}}
                          ).status_code == 201
        current = _revision(server)
        assert current >= 12
        deadline = time.monotonic() + 15
        while True:  # pruning is a background task, woken by the writes
            r = c.get("/v2.0/fermion/changes", params={"since": 0, "timeout": 0})
            if r.status_code == 410 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.status_code == 410, r.text
        error = r.json()["NeutronError"]
        assert error["type"] == "ResyncRequired"
        assert error["revision"] == current
        assert r.headers["X-Fermion-Revision"] == str(current)
        assert "snapshot" in error["message"]
        assert len(_table(server)) == 5
        # inside the window: fine
        r = c.get("/v2.0/fermion/changes", params={"since": current - 3, "timeout": 0})
        assert r.status_code == 200
        assert [ch["revision"] for ch in r.json()["changes"]] == [current - 2, current - 1,
                                                                  current]
        # from the future (a replaced database): resync too
        r = c.get("/v2.0/fermion/changes", params={"since": current + 100, "timeout": 0})
        assert r.status_code == 410
        assert r.json()["NeutronError"]["type"] == "ResyncRequired"


def test_feed_parameters_and_policy(fermion_server):
    server = fermion_server(extra_conf=WATCHED)
    with server.client() as c:
        r = c.get("/v2.0/fermion/changes", params={"since": 0, "timeout": 0})
        assert r.status_code == 200
        assert r.json() == {"changes": [], "revision": 0}
        for params in ({"since": -1}, {"since": "x"}, {"timeout": "-2"}, {"limit": 0},
                       {"timeout": "nan"}, {"bogus": 1}):
            r = c.get("/v2.0/fermion/changes", params=params)
            assert r.status_code == 400, (params, r.text)
        assert c.get("/v2.0/fermion/snapshot").status_code == 400
        # a long-poll returns as soon as a change commits
        since = _revision(server)
        result: dict = {}

        def watch() -> None:
            with server.client() as w:
                t0 = time.monotonic()
                r = w.get("/v2.0/fermion/changes", params={"since": since, "timeout": 20})
                result.update(body=r.json(), waited=time.monotonic() - t0)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        _wait_until_waiting(server, since, thread)
        assert c.post("/v2.0/networks", json={"network": {"name": "x"}}).status_code == 201
        thread.join(25)
        assert result["waited"] < 5
        assert [ch["action"] for ch in result["body"]["changes"]] == ["create"]
        # limit
        r = c.get("/v2.0/fermion/changes", params={"since": 0, "limit": 1, "timeout": 0})
        assert len(r.json()["changes"]) == 1
    with server.client(project_id="p1", roles="member") as c:
        for path in ("/v2.0/fermion/changes?timeout=0", "/v2.0/fermion/snapshot?host=h"):
            r = c.get(path)
            assert r.status_code == 403
            assert r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"


@pytest.mark.parametrize("count", [3])
def test_snapshot_then_watch_misses_nothing(fermion_server, count):
    """An agent's start: snapshot at R, then the feed from R gives what came after."""
    server = fermion_server()
    with server.client() as c:
        net = c.post("/v2.0/networks", json={"network": {"name": "n"}}).json()["network"]
        port = c.post("/v2.0/ports", json={"port": {
            "network_id": net["id"], "binding:host_id": "h1"}}).json()["port"]
        snap = c.get("/v2.0/fermion/snapshot", params={"host": "h1"}).json()["snapshot"]
        assert [p["id"] for p in snap["ports"]] == [port["id"]]
        assert [n["id"] for n in snap["networks"]] == [net["id"]]
        for i in range(count):
            c.put(f"/v2.0/ports/{port['id']}", json={"port": {"name": f"r{i}"}})
        r = c.get("/v2.0/fermion/changes", params={"since": snap["revision"], "timeout": 0})
        assert [(ch["resource"], ch["action"]) for ch in r.json()["changes"]] == \
            [("port", "update")] * count
