"""Database plumbing both stores share: the network server's (``fermion.db``) and the
Compute API's (``fermion.compute.store``).

- :func:`engine`: a SQLAlchemy engine; for SQLite, WAL mode, foreign keys, a busy timeout,
  and Fermion's own ``BEGIN`` (``BEGIN IMMEDIATE`` for connections with the
  :data:`WRITE` execution option, so a writer takes SQLite's one write lock up front
  instead of failing on "database is locked" half-way);
- :data:`NAMING_CONVENTION`: constraint and index names, which Alembic's batch migrations
  on SQLite need to find them again.

Imports only SQLAlchemy: any layer with a database may use it.
"""

from __future__ import annotations

import os

from sqlalchemy import Connection, Engine, create_engine, event

WRITE = "fermion_write"  # execution option of a connection that will write
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def engine(url: str, **kwargs) -> Engine:
    """An engine for ``url`` (``kwargs`` go to ``create_engine``); see the module doc."""
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, **kwargs)
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                        **kwargs)
    event.listen(eng, "connect", _sqlite_connect)
    event.listen(eng, "begin", _sqlite_begin)
    return eng


def _sqlite_connect(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # BEGIN is ours (see _sqlite_begin)
    cursor = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                   "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE)
                         else "BEGIN")
