"""The Compute API's own schema (Nova's table names where it has them).

Separate from the network server's database: its own tables and its own Alembic chain
(version table ``compute_alembic_version``), so it may live in its own database (the
default, ``fermion-compute.sqlite``) or share one PostgreSQL database with Neutron's tables
without either migration chain seeing the other's tables.

  instances        one row per server; ``id`` is the number behind EC2's ``i-%08x``
  instance_ports   the Networking API ports of a server, in order; ``created`` says whether
                   the server made the port (deleted with it) or was given it (unbound)
  key_pairs        Nova's key pairs, unique per (user, name)
  services         compute hosts, as their agents report (``nova-compute``'s role)
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from fermion import sql

metadata = MetaData(naming_convention=sql.NAMING_CONVENTION)

instances = Table(
    "instances", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("display_name", String(255), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("project_id", String(255), nullable=False, index=True),
    Column("user_id", String(255), nullable=False),
    Column("image_ref", String(36), nullable=False),
    Column("flavor_id", String(255), nullable=False),
    Column("key_name", String(255)),
    Column("key_data", Text),
    Column("key_type", String(16)),
    Column("user_data", Text),                 # base64, as the request gave it
    Column("meta", JSON, nullable=False),      # the server's metadata (key -> value)
    Column("security_groups", JSON, nullable=False),  # names, as requested
    Column("availability_zone", String(255), nullable=False),
    Column("host", String(255), index=True),
    Column("launch_index", Integer, nullable=False, default=0),
    Column("reservation_id", String(255), nullable=False),
    Column("vm_state", String(255), nullable=False),
    Column("task_state", String(255)),
    Column("power_state", Integer, nullable=False, default=0),
    Column("lease", Boolean, nullable=False, default=False),          # reported by the host
    Column("metadata_read", Boolean, nullable=False, default=False),  # seen by the service
    Column("fault", JSON),
    Column("password", Text),
    Column("console_log", Text),
    Column("config_drive", String(255), nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32)),
    Column("launched_at", String(32)),
)

instance_ports = Table(
    "instance_ports", metadata,
    Column("instance_uuid", String(36),
           ForeignKey("instances.uuid", ondelete="CASCADE"), primary_key=True),
    Column("port_id", String(36), primary_key=True),
    Column("network_id", String(36)),
    Column("position", Integer, nullable=False),
    Column("created", Boolean, nullable=False),
)

key_pairs = Table(
    "key_pairs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("fingerprint", String(255), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("type", String(16), nullable=False, default="ssh"),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("user_id", "name"),
)

services = Table(
    "services", metadata,
    Column("host", String(255), primary_key=True),
    Column("binary", String(255), nullable=False),
    Column("availability_zone", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("reported_at", Float, nullable=False),  # time.time() of the last report
)
