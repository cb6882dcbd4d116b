"""The model's rules: what each API write means and what each read shows.

What lives here
  core.py       `Plugin`: the configuration, the database and every resource, reached as
                ``plugin.networks``, ``plugin.ports``, ... (resources reach each other so).
  base.py, listing.py   what every resource shares: standard attributes, visibility and
                ownership, tags, and one list query builder (filters, sorting, keyset pages).
  networks, subnets, ports, subnetpools, address_scopes, routers, router_interfaces,
  floatingips, securitygroups, agents, quotas, tags   one module per resource.
  ml2/          type drivers (pure rules) and segment allocation.
  ipam.py (pure arithmetic), ip_allocation.py (against the database); binding.py (ports
                bound to a host's Open vSwitch); policy.py (attribute-level policy);
                sg_rules.py (security group rules as values).
  feed.py, snapshot.py, port_status.py, fip_status.py, scheduler.py, maintenance.py
                what agents need: the change feed, a host's snapshot at one revision, their
                status reports, which agent serves what, and the periodic failover.

How data flows through it
  The API calls a resource inside one transaction with model values (``Context``,
  validated attributes, ``ListQuery``); the resource checks policy and Neutron's rules,
  writes rows (each write records a change for the feed, ``db.engine.record_change``) and
  returns API views. Agents read the same views through ``snapshot`` and the feed.

Imports
  db/, model/, config, exceptions. Never api/ (the HTTP layer is above), agent/, linux/ or
  lab/. Pure rules (ml2.types, ipam, sg_rules, policy) touch neither database nor system.
"""
