"""The HTTP layer: the OpenStack Networking API v2.0 (and Fermion's agent endpoints).

What lives here
  app.py        `create_app(conf)`: builds the plugin, migrates the database, mounts every
                route; errors of any kind leave as Neutron's ``NeutronError`` bodies.
  routes.py     the generic CRUD routes of a resource, derived from its attribute map
                (list, create incl. bulk, show, update, delete, tags) with OpenAPI docs.
  routes_l3.py, routes_agents.py, routes_feed.py   router actions; agents and scheduling;
                the agents' internal endpoints (change feed, snapshot, status reports).
  request.py    a body -> validated attributes (unknown, read-only, required, values) and
                the attribute policy of ``plugin.policy``.
  query.py      a query string -> ``model.query.ListQuery``, checked against the map.
  http.py       JSON responses, identity, body limits, worker threads.
  auth.py, keystone.py  noauth headers or a Keystone token -> ``model.context.Context``.
  extensions.py the extension list (Neutron's aliases, exactly those implemented).

How data flows through it
  request -> identity (`Context`) -> body/query parsed into model values -> one
  ``plugin.db.write`` / ``read`` transaction calling ``plugin.<resource>`` -> the views it
  returns -> JSON. No rule of the model lives here: what a write means is the plugin's.

Imports
  plugin/, db/ (to open the database), model/, config, exceptions. Never agent/, linux/ or
  lab/: the server does not touch the host it runs on.
"""
