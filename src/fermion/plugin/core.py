"""The plugin: one object holding the configuration, the database and every resource.

The API layer calls ``plugin.<collection>`` (a ``Resource``) inside ``plugin.db.write`` /
``plugin.db.read`` transactions; resources reach each other through the plugin
(e.g. ports look up their network through ``plugin.networks``).
"""

from __future__ import annotations

from fermion.db.engine import Database
from fermion.plugin.address_scopes import AddressScopes
from fermion.plugin.agents import Agents
from fermion.plugin.feed import ChangeFeed
from fermion.plugin.floatingips import FloatingIPs
from fermion.plugin.maintenance import Maintenance
from fermion.plugin.ml2.types import TypeConfig
from fermion.plugin.networks import Networks
from fermion.plugin.ports import Ports
from fermion.plugin.quotas import Quotas
from fermion.plugin.router_interfaces import RouterInterfaces
from fermion.plugin.routers import Routers
from fermion.plugin.scheduler import Scheduler
from fermion.plugin.securitygroups import SecurityGroupRules, SecurityGroups
from fermion.plugin.subnetpools import SubnetPools
from fermion.plugin.subnets import Subnets
from fermion.plugin.tags import Tags


class Plugin:
    def __init__(self, conf, db: Database):
        self.conf = conf
        self.db = db
        self.types = TypeConfig.from_config(conf)
        self.quotas = Quotas(conf)
        self.tags = Tags()
        self.networks = Networks(self)
        self.subnets = Subnets(self)
        self.ports = Ports(self)
        self.subnetpools = SubnetPools(self)
        self.address_scopes = AddressScopes(self)
        self.routers = Routers(self)
        self.router_interfaces = RouterInterfaces(self)  # not a resource: no CRUD routes
        self.floatingips = FloatingIPs(self)
        self.securitygroups = SecurityGroups(self)
        self.securitygrouprules = SecurityGroupRules(self)
        self.resources = {r.collection: r for r in (self.networks, self.subnets, self.ports,
                                                    self.subnetpools)}
        self.resources.update((r.collection, r) for r in (self.address_scopes, self.routers,
                                                          self.floatingips))
        self.resources.update((r.collection, r) for r in (self.securitygroups,
                                                          self.securitygrouprules))
        # Agents, their scheduling and the change feed (not in ``resources``: no quotas,
        # tags or generic routes).
        self.agents = Agents(self)
        self.scheduler = Scheduler(self)
        self.feed = ChangeFeed(db, conf)
        self.maintenance = Maintenance(conf.get("DEFAULT", "agent_down_time") / 2,
                                       [self.feed.prune, self.scheduler.reschedule],
                                       wake=self.feed.prune_wanted)

    async def start(self) -> None:
        """Background work of a serving process: change feed wake-ups, periodic tasks."""
        await self.feed.start()
        self.maintenance.start()

    async def stop(self) -> None:
        self.maintenance.stop()
        await self.feed.close()
