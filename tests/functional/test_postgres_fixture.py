"""The postgres fixtures give each test a working, private and fresh PostgreSQL database."""

from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


def test_cluster_is_private_and_tracked(postgres_server):
    assert postgres_server.host == "127.0.0.1"
    assert postgres_server.data_dir.is_dir()
    cmdline = Path(f"/proc/{postgres_server.pid}/cmdline").read_bytes().split(b"\0")
    assert str(postgres_server.data_dir).encode() in cmdline
    with postgres_server.connect() as conn:
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("15")
        assert conn.execute("SHOW port").fetchone()[0] == str(postgres_server.port)


@pytest.mark.parametrize("run", [1, 2])
def test_fresh_database_per_test(postgres_url, run):
    # Both runs create the same table: this only passes if each got its own database.
    url = sa.make_url(postgres_url)
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.host) == ("postgres", "127.0.0.1")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == url.database
            conn.execute(sa.text("CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL)"))
            conn.execute(sa.text("INSERT INTO item (name) VALUES ('a'), ('b')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM item")).scalar_one() == 2
    finally:
        engine.dispose()


def test_database_is_dropped_afterwards(postgres_server):
    # postgres_url is postgres_server.database(); check its teardown drops the database,
    # even with a connection still open.
    with postgres_server.database() as url:
        dbname = sa.make_url(url).database
        engine = sa.create_engine(url)
        held = engine.connect()  # still open when the database is dropped
        held.execute(sa.text("SELECT 1"))
        with postgres_server.connect() as admin:
            assert _exists(admin, dbname)
    try:
        with postgres_server.connect() as admin:
            assert not _exists(admin, dbname)
    finally:
        held.invalidate()
        engine.dispose()


def _exists(conn, dbname):
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
