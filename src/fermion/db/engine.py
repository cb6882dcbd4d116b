"""Connections and transactions: SQLite (WAL, one writer at a time) or PostgreSQL.

``Database.write(fn)`` runs ``fn(conn)`` in one transaction and commits it whole or not at
all; when two writers collide on a unique constraint or a serialisation failure it runs
``fn`` again (a few times), so callers write plain "read, decide, insert" code.
On SQLite, writers also take a process-wide lock and ``BEGIN IMMEDIATE``: SQLite has one
writer anyway, and queueing in Python is cheaper than retrying on "database is locked".

The change log (``record_change``): a write's changes are buffered and appended to the
``changes`` table at the end of the same transaction, just before it commits. On
PostgreSQL that append first takes a transaction-scoped advisory lock, so revisions are
handed out in commit order: once revision R is visible, every revision below R is too, and
a watcher reading "everything after R" never skips a change that commits late. The lock is
held only for the append and the commit (nothing else can wait on it while holding row
locks), and the transaction also sends ``NOTIFY fermion_changes`` so that watchers on other
servers wake up. After the commit, ``Database.commit_hooks`` run (in-process wake-ups).
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from fermion import sql
from fermion.db import models

LOG = logging.getLogger(__name__)
T = TypeVar("T")
RETRIES = 10
# PostgreSQL: the advisory lock that orders revisions, and the channel that announces them.
CHANGE_LOCK_KEY = 0x6665726D  # "ferm"
CHANGE_CHANNEL = "fermion_changes"


class Retry(Exception):
    """Raised inside a write to ask for the whole transaction to run again."""


def timestamp() -> str:
    """Now, in UTC, as the API shows it: 2026-11-27T08:56:09Z."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Database:
    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = sql.is_sqlite(url)
        self._write_lock = threading.Lock()
        pool = {"pool_size": 8, "max_overflow": 16} if self.is_sqlite else \
            {"pool_size": 10, "max_overflow": 20}
        self.engine = sql.engine(url, **pool)
        # change_hooks(conn, changes): in a write that recorded changes, before they are
        # appended (they may write and record more); commit_hooks(): after it committed.
        self.change_hooks: list[Callable[[Connection, list[dict]], None]] = []
        self.commit_hooks: list[Callable[[], None]] = []

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read_snapshot(self) -> Iterator[Connection]:
        """Like ``read``, but one snapshot for every statement on PostgreSQL too.

        (PostgreSQL's default READ COMMITTED gives each statement its own snapshot; SQLite's
        read transaction is one snapshot already.)
        """
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn.execution_options(isolation_level="REPEATABLE READ",
                                       postgresql_readonly=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for several queries (rolled back at the end)."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def query(self, fn: Callable[[Connection], T]) -> T:
        """``fn(conn)`` in one ``read`` transaction: the reading counterpart of ``write``."""
        with self.read() as conn:
            return fn(conn)

    def write(self, fn: Callable[[Connection], T]) -> T:
        for attempt in range(RETRIES):
            try:
                if self.is_sqlite:
                    with self._write_lock:
                        return self._run(fn)
                return self._run(fn)
            except (Retry, IntegrityError, OperationalError, DBAPIError) as error:
                if not _retriable(error) or attempt == RETRIES - 1:
                    raise
                LOG.debug("write conflict, retrying (%s): %s", attempt + 1, error)
        raise AssertionError("unreachable")

    def _run(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect().execution_options(**{sql.WRITE: True}) as conn:
            pending = _PENDING[conn] = []
            try:
                with conn.begin():
                    result = fn(conn)
                    if pending:
                        for hook in self.change_hooks:
                            hook(conn, list(pending))
                        _append_changes(conn, pending)
            finally:
                del _PENDING[conn]
        if pending:
            for hook in self.commit_hooks:
                try:
                    hook()
                except Exception:  # a wake-up failing must not fail the committed write
                    LOG.exception("commit hook failed")
        return result


def _retriable(error: Exception) -> bool:
    if isinstance(error, Retry):
        return True
    if isinstance(error, IntegrityError):
        # Unique violations from a concurrent writer; the retry re-reads and decides again.
        return True
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    # PostgreSQL serialization_failure / deadlock_detected; SQLite "database is locked".
    return code in ("40001", "40P01") or "database is locked" in str(error)


_STATEMENTS: dict = {}


def statement(key: tuple, build: Callable[[], T]) -> T:
    """A statement built once and reused with bind parameters.

    Building a SQLAlchemy statement costs several times more than running a cached one on
    SQLite; the hot paths (get by id, port create, list children) build theirs once.
    """
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build()
    return stmt


_CHANGE_INSERT = insert(models.changes)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_NOTIFY = text("SELECT pg_notify(:channel, '')")
# The changes a transaction run by Database.write has recorded so far, by its connection.
_PENDING: dict[Connection, list[dict]] = {}


def record_change(conn: Connection, resource: str, resource_id: str, action: str,
                  project_id: str | None) -> None:
    """Log a change to the global revision log (the agents' change feed).

    Inside ``Database.write`` the row is appended when the transaction is about to commit
    (see the module docstring); elsewhere at once, under the same lock.
    """
    change = {"resource": resource, "resource_id": resource_id, "action": action,
              "project_id": project_id, "created_at": timestamp()}
    pending = _PENDING.get(conn)
    if pending is not None:
        pending.append(change)
    else:
        _append_changes(conn, [change])


def _append_changes(conn: Connection, changes: list[dict]) -> None:
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(_LOCK, {"key": CHANGE_LOCK_KEY})
    conn.execute(_CHANGE_INSERT, changes)
    if postgres:
        conn.execute(_NOTIFY, {"channel": CHANGE_CHANNEL})


def create_schema(db: Database) -> None:
    """Bring the schema to the newest migration (Alembic), creating it when empty."""
    from fermion.db.migrate import upgrade

    upgrade(db.url)
