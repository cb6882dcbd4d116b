"""The change feed: what agents watch instead of a message bus.

Every committed write has appended rows to the ``changes`` table (``db.engine.record_change``);
their ``revision`` is one global sequence, handed out in commit order (on PostgreSQL under
an advisory lock, see ``db.engine``), so "everything after revision R" is a complete answer
whenever it is asked. Agents take a snapshot of their host at revision R
(``plugin.snapshot``) and then ask for the changes after R, long-polling when there are none.

In each server, ``ChangeFeed`` keeps the newest changes in memory and refreshes them with one
query whenever something may have committed: a write through this server (a commit hook),
a ``NOTIFY fermion_changes`` from another server sharing the PostgreSQL database (a listener
thread with its own connection), or, as a safety net, every ``[fermion]
change_poll_interval`` seconds. Fifty watchers of one server therefore cost one query per
wake-up, not fifty. A watcher behind the in-memory window reads the table itself; one
behind the retained log (``[fermion] change_log_size`` newest changes are kept) is told to
resync (``ResyncRequired``, 410) and takes a new snapshot.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import threading

from anyio import to_thread
from sqlalchemy import bindparam, delete, func, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import CHANGE_CHANNEL, Database, statement

LOG = logging.getLogger(__name__)
C = models.changes
CACHE_MAX = 10000  # changes kept in memory per server
FETCH = 5000  # rows per refresh query
MAX_TIMEOUT = 60.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000


def change_view(row) -> dict:
    return {"revision": row.revision, "resource": row.resource,
            "resource_id": row.resource_id, "action": row.action,
            "project_id": row.project_id, "created_at": row.created_at}


def current_revision(conn) -> int:
    stmt = statement(("feed", "max"), lambda: select(func.max(C.c.revision)))
    return conn.execute(stmt).scalar() or 0


class ChangeFeed:
    def __init__(self, db: Database, conf):
        self.db = db
        self.retain = conf.get("fermion", "change_log_size")
        self.poll_interval = conf.get("fermion", "change_poll_interval")
        self.cache_max = min(self.retain, CACHE_MAX)
        # Every change with base < revision <= head, in order.
        self._revisions: list[int] = []
        self._items: list[dict] = []
        self.base = self.head = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._ready = asyncio.Event()  # asyncio objects bind to the loop at first use
        self._kick = asyncio.Event()  # something may have committed
        self._updated = asyncio.Event()  # set (and replaced) when changes were read
        self._refresh_lock = asyncio.Lock()
        self._closing = False
        self._task: asyncio.Task | None = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        # Writes since the last prune; maintenance prunes when this reaches prune_every.
        self.writes = 0
        self.prune_every = max(1, min(1000, self.retain // 10))
        self.prune_wanted = threading.Event()
        db.commit_hooks.append(self._committed)

    # -- wake-ups ---------------------------------------------------------------------------

    def _committed(self) -> None:
        """After a write through this server committed changes (any thread)."""
        self.writes += 1
        if self.writes >= self.prune_every:
            self.prune_wanted.set()
        self.wake()

    def wake(self) -> None:
        """Something may have committed: refresh soon (any thread)."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._kick.set)
        except RuntimeError:  # the loop is closing
            pass

    async def start(self) -> None:
        """Start the refresher (and the PostgreSQL listener); idempotent."""
        if self._started:  # (only the event loop's thread gets here)
            await self._ready.wait()
            return
        self._started = True
        try:
            self.base = self.head = await to_thread.run_sync(self._current)
        except BaseException:
            self._started = False
            raise
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._refresher())
        self._kick.set()  # catch what committed while we started
        self._ready.set()
        if not self.db.is_sqlite:
            self._listener = threading.Thread(target=self._listen, name="fermion-listen",
                                              daemon=True)
            self._listener.start()

    async def close(self) -> None:
        self._closing = True
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            self._updated.set()
        self._loop = None
        if self._listener is not None:
            await to_thread.run_sync(self._listener.join, 5)

    async def _refresher(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._kick.wait(), self.poll_interval)
            except TimeoutError:
                pass
            self._kick.clear()
            try:
                await self.refresh()
            except Exception:
                LOG.exception("change feed refresh failed")
                await asyncio.sleep(min(1.0, self.poll_interval))

    async def refresh(self) -> None:
        """Read what committed after ``head`` into memory and wake the waiters."""
        async with self._refresh_lock:
            while True:
                rows = await to_thread.run_sync(self._fetch, self.head, FETCH)
                if rows:
                    self._append(rows)
                if len(rows) < FETCH:
                    return

    def _append(self, rows: list[dict]) -> None:
        self._revisions.extend(r["revision"] for r in rows)
        self._items.extend(rows)
        self.head = rows[-1]["revision"]
        excess = len(self._items) - self.cache_max
        if excess > self.cache_max // 4:  # trim in steps, not on every refresh
            self.base = self._revisions[excess - 1]
            del self._revisions[:excess]
            del self._items[:excess]
        updated, self._updated = self._updated, asyncio.Event()
        updated.set()

    def _listen(self) -> None:
        """PostgreSQL: LISTEN on the channel every write NOTIFYs, waking this server."""
        import psycopg

        engine = self.db.engine
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        while not self._stop.is_set():
            try:
                with psycopg.connect(*args, **{**kwargs, "autocommit": True}) as conn:
                    conn.execute(f"LISTEN {CHANGE_CHANNEL}")
                    self.wake()  # whatever committed while nobody listened
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.wake()
            except Exception as error:
                if self._stop.is_set():
                    return
                LOG.warning("change feed listener: %s; reconnecting", error)
                self._stop.wait(1.0)

    # -- reading ---------------------------------------------------------------------------

    def _current(self) -> int:
        with self.db.read() as conn:
            return current_revision(conn)

    def _fetch(self, after: int, limit: int) -> list[dict]:
        stmt = statement(("feed", "after"), lambda: select(C).where(
            C.c.revision > bindparam("after")).order_by(C.c.revision).limit(bindparam("limit")))
        with self.db.read() as conn:
            return [change_view(r) for r in conn.execute(stmt, {"after": after,
                                                                "limit": limit})]

    def _history(self, since: int, limit: int) -> list[dict]:
        """Changes after ``since`` from the table (older than the in-memory window)."""
        with self.db.read_snapshot() as conn:
            oldest = conn.execute(select(func.min(C.c.revision))).scalar()
            newest = current_revision(conn)
            if oldest is not None and since < oldest - 1:
                raise exc.ResyncRequired(since=since, oldest=oldest, revision=newest)
            stmt = select(C).where(C.c.revision > since).order_by(C.c.revision).limit(limit)
            return [change_view(r) for r in conn.execute(stmt)]

    def _cached(self, since: int, limit: int) -> list[dict]:
        start = bisect.bisect_right(self._revisions, since)
        return self._items[start:start + limit]

    async def changes(self, since: int, timeout: float, limit: int) -> list[dict]:
        """The changes after ``since`` in revision order, waiting up to ``timeout`` s for one.

        Raises ``ResyncRequired`` when changes after ``since`` are no longer retained, or
        when ``since`` is ahead of the newest revision (the database was replaced).
        """
        await self.start()
        if self._kick.is_set() or self._refresh_lock.locked():
            # A commit this server was told about is not in memory yet: read it first, so a
            # client that saw its write succeed also sees its change (read-your-writes).
            await self.refresh()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if since > self.head:  # another server may be ahead of our last refresh
            await self.refresh()
            if since > self.head:
                raise exc.ResyncRequired(
                    message=f"Revision {since} is ahead of the newest revision {self.head}; "
                            "take a new snapshot.", revision=self.head)
        while True:
            updated = self._updated
            if since < self.base:
                batch = await to_thread.run_sync(self._history, since, limit)
            else:
                batch = self._cached(since, limit)
            if batch:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return []
            LOG.debug("watcher since revision %d waits (up to %.0f s)", since, remaining)
            try:
                await asyncio.wait_for(updated.wait(), remaining)
            except TimeoutError:
                return []

    # -- retention -------------------------------------------------------------------------

    def prune(self) -> int:
        """Drop all but the newest ``change_log_size`` changes; returns how many went."""
        self.prune_wanted.clear()
        self.writes = 0

        def run(conn) -> int:
            newest = current_revision(conn)
            if newest <= self.retain:
                return 0
            return conn.execute(delete(C).where(C.c.revision <= newest - self.retain)).rowcount

        return self.db.write(run)
