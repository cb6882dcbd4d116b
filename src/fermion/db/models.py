"""The schema, as SQLAlchemy Core tables (Alembic migrations in ``db/migrations`` match these).

Table names follow Neutron's where one exists (``networks``, ``subnets``, ``ports``,
``ipallocations``, ``networksegments``, ``subnetpools``, ``quotas``, ``tags``) so that an
engineer who knows Neutron's database finds their way. Small ordered lists that are never
filtered on (allocation pools, DNS servers, host routes, address pairs, extra DHCP options,
binding profile) are JSON columns of their owner instead of child tables: one row per object
keeps list calls to a handful of queries however many objects there are.

Uniqueness the API promises is enforced here, so concurrent writers cannot break it:
one MAC per network, one owner per (subnet, IP), one network per allocated segment.
"""

from __future__ import annotations

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from fermion import sql


class JSON(TypeDecorator):
    """JSON kept as text, read with orjson; empty lists/objects skip the parser.

    Most JSON columns hold ``[]`` or ``{}``; on a 10,000-port list the generic JSON type's
    parsing was a third of the time.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else orjson.dumps(value).decode()

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value == "[]":
            return []
        if value == "{}":
            return {}
        return orjson.loads(value)


metadata = MetaData(naming_convention=sql.NAMING_CONVENTION)


def _id() -> Column:
    return Column("id", String(36), primary_key=True)


def _standard() -> list[Column]:
    """Neutron's standard attributes: owner, name, description, timestamps and revision."""
    return [
        Column("project_id", String(255), index=True),
        Column("name", String(255), nullable=False, default=""),
        Column("description", String(255), nullable=False, default=""),
        # Neutron's text form, "2026-11-27T08:56:09Z": sorts and compares as time does,
        # and lists need no parsing or formatting (see db.engine.timestamp).
        Column("created_at", String(20), nullable=False),
        Column("updated_at", String(20), nullable=False),
        Column("revision_number", Integer, nullable=False, default=0),
    ]


networks = Table(
    "networks",
    metadata,
    _id(),
    *_standard(),
    Column("status", String(16), nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("shared", Boolean, nullable=False, default=False),
    Column("router_external", Boolean, nullable=False, default=False),
    Column("mtu", Integer, nullable=False),
    Column("port_security_enabled", Boolean, nullable=False, default=True),
    Column("availability_zone_hints", JSON, nullable=False),
    Column("dns_domain", String(255), nullable=False, default=""),
)

networksegments = Table(
    "networksegments",
    metadata,
    _id(),
    Column("network_id", String(36), ForeignKey("networks.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("network_type", String(32), nullable=False),
    Column("physical_network", String(64)),
    Column("segmentation_id", BigInteger),  # GRE keys go up to 2**32 - 1
    Column("segment_index", Integer, nullable=False, default=0),
    # "vlan:physnet:100", "flat:physnet", "vxlan:5"; NULL for local. Unique: no two networks
    # ever hold the same segment, even when two servers allocate at once.
    Column("allocation_key", String(128), unique=True),
)

subnetpools = Table(
    "subnetpools",
    metadata,
    _id(),
    *_standard(),
    Column("ip_version", Integer, nullable=False),
    Column("default_prefixlen", Integer, nullable=False),
    Column("min_prefixlen", Integer, nullable=False),
    Column("max_prefixlen", Integer, nullable=False),
    Column("shared", Boolean, nullable=False, default=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("default_quota", Integer),
    Column("address_scope_id", String(36)),
    Column("prefixes", JSON, nullable=False),
)

subnets = Table(
    "subnets",
    metadata,
    _id(),
    *_standard(),
    Column("network_id", String(36), ForeignKey("networks.id"), nullable=False, index=True),
    Column("ip_version", Integer, nullable=False),
    Column("cidr", String(64), nullable=False),
    Column("gateway_ip", String(64)),
    Column("enable_dhcp", Boolean, nullable=False),
    Column("ipv6_ra_mode", String(16)),
    Column("ipv6_address_mode", String(16)),
    Column("subnetpool_id", String(36), ForeignKey("subnetpools.id"), index=True),
    Column("segment_id", String(36), ForeignKey("networksegments.id")),
    Column("allocation_pools", JSON, nullable=False),
    Column("dns_nameservers", JSON, nullable=False),
    Column("host_routes", JSON, nullable=False),
)

ports = Table(
    "ports",
    metadata,
    _id(),
    *_standard(),
    Column("network_id", String(36), ForeignKey("networks.id"), nullable=False, index=True),
    Column("mac_address", String(32), nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("device_id", String(255), nullable=False, default="", index=True),
    Column("device_owner", String(255), nullable=False, default="", index=True),
    Column("port_security_enabled", Boolean, nullable=False, default=True),
    Column("binding_host_id", String(255), nullable=False, default="", index=True),
    Column("binding_vif_type", String(64), nullable=False, default="unbound"),
    Column("binding_vnic_type", String(64), nullable=False, default="normal"),
    Column("binding_vif_details", JSON, nullable=False),
    Column("binding_profile", JSON, nullable=False),
    Column("allowed_address_pairs", JSON, nullable=False),
    Column("extra_dhcp_opts", JSON, nullable=False),
    Column("dns_name", String(255), nullable=False, default=""),
    UniqueConstraint("network_id", "mac_address"),
)

ipallocations = Table(
    "ipallocations",
    metadata,
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), index=True),
    Column("ip_address", String(64), primary_key=True),
    Column("subnet_id", String(36), ForeignKey("subnets.id", ondelete="CASCADE"),
           primary_key=True),
    Column("network_id", String(36), nullable=False, index=True),
)



tags = Table(
    "tags",
    metadata,
    Column("resource_id", String(36), primary_key=True),
    Column("tag", String(255), primary_key=True),
    Column("resource_type", String(64), nullable=False),
    Index("ix_tags_tag", "tag"),
)

quotas = Table(
    "quotas",
    metadata,
    Column("project_id", String(255), primary_key=True),
    Column("resource", String(255), primary_key=True),
    Column("limit", Integer, nullable=False),
)

securitygroupportbindings = Table(
    "securitygroupportbindings",
    metadata,
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("security_group_id", String(36), primary_key=True, index=True),
)

# One global, ever-growing revision: every committed write appends a row. Agents will read
# this as the change feed ("what changed after revision R").
changes = Table(
    "changes",
    metadata,
    Column("revision", Integer, primary_key=True, autoincrement=True),
    Column("resource", String(64), nullable=False),
    Column("resource_id", String(36), nullable=False),
    Column("action", String(16), nullable=False),
    Column("project_id", String(255)),
    Column("created_at", String(20), nullable=False),
)

# -- security groups -------------------------------------------------------------------------

securitygroups = Table(
    "securitygroups",
    metadata,
    _id(),
    *_standard(),
    Column("stateful", Boolean, nullable=False, default=True),
)

securitygrouprules = Table(
    "securitygrouprules",
    metadata,
    _id(),
    *_standard(),
    Column("security_group_id", String(36),
           ForeignKey("securitygroups.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("remote_group_id", String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"),
           index=True),
    Column("direction", String(8), nullable=False),
    Column("ethertype", String(8), nullable=False),
    Column("protocol", String(40)),
    Column("port_range_min", Integer),
    Column("port_range_max", Integer),
    Column("remote_ip_prefix", String(64)),
)

# The one "default" group of each project (created with the project's first request).
default_security_group = Table(
    "default_security_group",
    metadata,
    Column("project_id", String(255), primary_key=True),
    Column("security_group_id", String(36),
           ForeignKey("securitygroups.id", ondelete="CASCADE"), nullable=False),
)

# -- address scopes, routers, floating IPs ---------------------------------------------------

address_scopes = Table(
    "address_scopes",
    metadata,
    _id(),
    *_standard(),
    Column("shared", Boolean, nullable=False, default=False),
    Column("ip_version", Integer, nullable=False),
)

routers = Table(
    "routers",
    metadata,
    _id(),
    *_standard(),
    Column("status", String(16), nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("gw_port_id", String(36), ForeignKey("ports.id")),
    Column("enable_snat", Boolean, nullable=False, default=True),
    Column("routes", JSON, nullable=False),
    Column("availability_zone_hints", JSON, nullable=False),
)

routerports = Table(
    "routerports",
    metadata,
    Column("router_id", String(36), ForeignKey("routers.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("port_type", String(255), nullable=False),
)

floatingips = Table(
    "floatingips",
    metadata,
    _id(),
    *_standard(),
    Column("floating_ip_address", String(64), nullable=False),
    Column("floating_network_id", String(36), ForeignKey("networks.id"), nullable=False,
           index=True),
    Column("floating_port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"),
           nullable=False),
    Column("fixed_port_id", String(36), ForeignKey("ports.id"), index=True),
    Column("fixed_ip_address", String(64)),
    Column("router_id", String(36), ForeignKey("routers.id"), index=True),
    Column("status", String(16), nullable=False),
    UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address"),
)

# -- agents and scheduling -------------------------------------------------------------------

agents = Table(
    "agents",
    metadata,
    _id(),
    Column("agent_type", String(255), nullable=False),
    Column("binary", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("host", String(255), nullable=False, index=True),
    Column("availability_zone", String(255)),
    Column("admin_state_up", Boolean, nullable=False, default=True),
    Column("created_at", String(20), nullable=False),
    Column("started_at", String(20), nullable=False),
    Column("heartbeat_timestamp", String(20), nullable=False),
    Column("description", String(255), nullable=False, default=""),
    Column("configurations", JSON, nullable=False),
    Column("resources_synced", Boolean),
    Column("load", Integer, nullable=False, default=0),
    UniqueConstraint("agent_type", "host"),
)

networkdhcpagentbindings = Table(
    "networkdhcpagentbindings",
    metadata,
    Column("network_id", String(36), ForeignKey("networks.id", ondelete="CASCADE"),
           primary_key=True),
    Column("dhcp_agent_id", String(36), ForeignKey("agents.id", ondelete="CASCADE"),
           primary_key=True),
)

routerl3agentbindings = Table(
    "routerl3agentbindings",
    metadata,
    Column("router_id", String(36), ForeignKey("routers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("l3_agent_id", String(36), ForeignKey("agents.id", ondelete="CASCADE"),
           primary_key=True),
)
