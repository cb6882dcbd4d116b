"""Benchmarks for Fermion.

``python -m bench.run`` (what ``make bench`` runs) starts Fermion and upstream
neutron-server side by side on this machine, drives both with the same plain Neutron
v2.0 HTTP client and reports the numbers and Fermion/Neutron ratios in
``bench/results/api.json`` and ``BENCHMARKS.md``.

- ``proc``: child-process plumbing shared by both servers (free ports, readiness,
  RSS of a process tree, stop by tracked pid/process group) and the common ML2 options.
- ``peer_neutron``: installs ``neutron`` + ``uwsgi`` into ``bench/.peer/venv`` and runs
  upstream's WSGI app under uWSGI (SQLite, one process, one thread).
- ``servers``: runs ``fermion server`` with the same options.
- ``api_bench``: the client-side benchmark against any Neutron API endpoint.
- ``run``: the command line; writes the results.

Nothing here imports ``fermion``: Fermion is measured only through its HTTP API.
"""
