"""The database layer: the schema, transactions, the change log and migrations.

What lives here
  models.py     the schema as SQLAlchemy Core tables (Neutron's table names where it has them).
  engine.py     `Database`: SQLite (WAL, one writer) or PostgreSQL; ``write(fn)`` runs one
                transaction, retried on conflicts; ``record_change`` appends each write's
                changes to the ``changes`` table with one global revision sequence.
  migrate.py, migrations/   Alembic, run at server start and by ``fermion db upgrade``;
                migrations are frozen once released.

How data flows through it
  plugin/ builds statements against ``models`` and runs them in ``Database`` transactions;
  the committed changes are what the change feed (``plugin.feed``) serves to agents.

Imports
  Nothing of Fermion above it (never api/, plugin/, model/, agent/, linux/, lab/); SQLAlchemy,
  Alembic and ``fermion.sql`` (the engine and naming convention it shares with the compute
  store).
"""
