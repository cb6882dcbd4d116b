"""Alembic environment of the compute store: its own chain and version table, so it can
share a database with the network server's tables without either seeing the other."""

from alembic import context
from sqlalchemy import create_engine, pool

from fermion.compute.tables import metadata

VERSION_TABLE = "compute_alembic_version"
config = context.config


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          version_table=VERSION_TABLE,
                          include_name=lambda name, kind, _parent: kind != "table"
                          or name in metadata.tables,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
