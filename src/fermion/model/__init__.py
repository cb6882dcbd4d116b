"""The request model the HTTP layer and the plugin share: who asks, and what they may say.

What lives here
  context.py     `Context`: the caller (project, user, roles) as noauth headers or a Keystone
                 token name it; `is_admin`, `can_write`.
  attributes*.py the resource attribute maps, Neutron's RESOURCE_ATTRIBUTE_MAP in data:
                 each attribute's validator, default, create/update permission, policy
                 ("admin", "network_owner"), visibility, filter and sort use
                 (attributes: networks, subnets, ports, subnet pools; attributes_l3:
                 routers, floating IPs, address scopes; attributes_sg: security groups and
                 rules with their converters; attributes_agents: agents).
  validators.py  the attribute validators, raising `Invalid(reason)` in Neutron's words.
  query.py       `ListQuery`: a list request's filters, fields, sorts, page and tags.

How data flows through it
  api/ parses a request into these values (``api.request``, ``api.query``) and hands them
  to plugin/, which reads the maps for attribute policy (``plugin.policy``) and the
  ``ListQuery`` for SQL (``plugin.listing``).

Imports
  Only ``fermion.exceptions`` (converters raise Neutron's errors). Imported by api/ and
  plugin/; never by agent/, lab/ or linux/ (they know the server only over HTTP). Pure:
  no database, no system.
"""
