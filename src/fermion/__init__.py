"""Fermion: a small, complete, Neutron-compatible virtual networking service.

Packages, one concern each, and the arrows between them (``tests/unit/test_layers.py``
keeps them so):

    cli ─► api ─► plugin ─► db
     │      └───────┴─► model
     ├─► agent ─► linux
     └─► lab ───► linux

  cli       the ``fermion`` command: server, db upgrade, agents, lab.
  api/      HTTP: routes, request parsing, identity, Neutron's error bodies.
  plugin/   the model's rules: ML2, IPAM, networks/subnets/ports, L3, security groups,
            quotas, agents' scheduling, the change feed and host snapshots.
  db/       SQLAlchemy tables, transactions, the change log, Alembic migrations.
  model/    what api/ and plugin/ share: Context, attribute maps, validators, ListQuery.
  agent/    the agents of a host: desired state computed from the server's snapshot
            (pure), thin appliers that converge OVS, namespaces, dnsmasq, iptables, haproxy.
  lab/      simulated hosts on one machine, built from linux/ verbs; agents and servers
            run in them as processes.
  linux/    thin, idempotent verbs on the host (commands, namespaces, OVS, iptables).
  config    Neutron-style INI options (Neutron's section and option names), and
  exceptions  Neutron's errors: the base, importable by all, importing nothing of Fermion.

How data flows: an API write goes api -> plugin -> db and records a change; agents see it
over HTTP (the change feed and their host's snapshot), compute what their host should
hold, and apply the difference through linux/. Agents, the lab and linux/ never import the
server's packages (they run on hosts that know the server only over HTTP); the server's
packages never import agent/, linux/ or lab/; plugin/ never imports api/.
"""

__version__ = "0.1.0"
