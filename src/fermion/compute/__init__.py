"""The Compute API subset (Nova's role) and the Image API subset (Glance's role).

``fermion compute-api --config-file nova.conf`` serves, in one process:

- the Compute API on ``[DEFAULT] osapi_compute_listen_port`` (8774): version discovery,
  ``flavors``, ``servers`` (create, list, detail, show, delete, ``os-getConsoleOutput``),
  ``os-keypairs``, ``os-services``, and the compute hosts' internal endpoints;
- the Image API on ``[fermion] image_api_listen_port`` (9292): the built-in images;
- the metadata service (``fermion.metadata``) on ``[DEFAULT] metadata_listen_port`` (8775).

What lives here
  app.py          the Compute API application; microversion 2.1
  routes_*.py     HTTP routes (servers; versions, flavors, key pairs; compute hosts)
  images_app.py   the Image API
  server_request.py  a server create checked against everything it names (nothing written)
  servers.py      create (schedule, ports, bind) and delete
  instances.py    lists, and what compute hosts and the metadata service report
  views.py        Nova's JSON shapes and the server state machine (pure)
  netinfo.py      addresses / network_data.json from the Networking API's ports (pure)
  catalog.py      built-in flavors and images (pure)
  validation.py   JSON schemas with Nova's 400 messages (pure)
  keypairs.py     key pairs: generation, fingerprints
  neutron.py      the client of the Networking API (HTTP, as Nova's)
  store.py, tables.py, migrations/   its own database and Alembic chain
  http.py, service.py   faults, identity (noauth), settings

Imports
  Nothing of the network server (api/, plugin/, db/, model/): the Networking API is
  another service, reached over HTTP. Never agent/, linux/ or lab/. The metadata service
  (``fermion.metadata``) and ``fermion.compute_api`` (the process serving all three) are
  the packages that import this one.
"""
