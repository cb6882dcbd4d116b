"""Fermion: a small, complete, Neutron-compatible virtual networking service.

Packages, one concern each:
  api/     HTTP layer: routes, request validation from the attribute maps, errors, policy, auth
  db/      SQLAlchemy tables, engine/transactions, Alembic migrations
  plugin/  the model's rules: ML2 type drivers and segments, IPAM, networks/subnets/ports
  config   Neutron-style INI options (same section and option names as Neutron)

api/, plugin/ and db/ never import the agent side; pure logic (IPAM arithmetic, MTU,
segment ranges) lives in modules that touch neither the database nor the system.
"""

__version__ = "0.1.0"
