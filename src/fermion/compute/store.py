"""The compute store: connections, transactions and migrations of the Compute API's tables.

SQLite (the default, ``sqlite:///fermion-compute.sqlite``, WAL) or PostgreSQL, like the
network server's database but not shared with it (``tables.py`` says why). ``write(fn)`` runs
``fn(conn)`` in one transaction, committed whole or not at all; on SQLite writers queue on a
process lock (SQLite has one writer anyway). ``migrate()`` brings the schema to the newest
revision of the compute chain; the Compute API calls it at start.
"""

from __future__ import annotations

import datetime
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection

from fermion import sql

T = TypeVar("T")
DEFAULT_URL = "sqlite:///fermion-compute.sqlite"
MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def now() -> str:
    """UTC, as Nova shows it: 2026-11-27T08:56:09Z."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(self, url: str = DEFAULT_URL):
        self.url = url
        self.is_sqlite = sql.is_sqlite(url)
        self._write_lock = threading.Lock()
        self.engine = sql.engine(url)

    def migrate(self) -> None:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", MIGRATIONS)
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def query(self, fn: Callable[[Connection], T]) -> T:
        with self.read() as conn:
            return fn(conn)

    def write(self, fn: Callable[[Connection], T]) -> T:
        if self.is_sqlite:
            with self._write_lock:
                return self._run(fn)
        return self._run(fn)

    def _run(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect().execution_options(**{sql.WRITE: True}) as conn:
            with conn.begin():
                return fn(conn)
