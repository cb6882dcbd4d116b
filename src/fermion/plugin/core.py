"""The plugin: one object holding the configuration, the database and every resource.

The API layer calls ``plugin.<collection>`` (a ``Resource``) inside ``plugin.db.write`` /
``plugin.db.read`` transactions; resources reach each other through the plugin
(e.g. ports look up their network through ``plugin.networks``).
"""

from __future__ import annotations

from fermion.db.engine import Database
from fermion.plugin.ml2.types import TypeConfig
from fermion.plugin.networks import Networks
from fermion.plugin.ports import Ports
from fermion.plugin.quotas import Quotas
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
        self.resources = {r.collection: r for r in (self.networks, self.subnets, self.ports,
                                                    self.subnetpools)}
