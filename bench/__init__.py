"""Benchmarks for Fermion.

``python -m bench.run`` (what ``make bench`` runs) starts Fermion and upstream
neutron-server one after the other on this machine, drives both with the same plain
Neutron v2.0 HTTP client and reports the numbers and Fermion/Neutron ratios in
``bench/results/api.json`` and ``BENCHMARKS.md``; then it measures Fermion's change feed
with 50 watchers against a 1-watcher baseline (``bench/results/feed.json``). ``--suite
api|feed`` runs one of the two.

- ``proc``: child-process plumbing shared by both servers (free ports, readiness,
  RSS of a process tree, stop by tracked pid/process group) and the common ML2 options.
- ``peer_neutron``: installs ``neutron`` + ``uwsgi`` into ``bench/.peer/venv`` and runs
  upstream's WSGI app under uWSGI (SQLite, one process, one thread).
- ``servers``: runs ``fermion server`` with the same options.
- ``api_bench``: the client-side benchmark against any Neutron API endpoint.
- ``feed_bench``: the change feed under load (long-polling watchers, concurrent writers).
- ``feed_report``: the feed suite's ratios, notes and ``BENCHMARKS.md`` section.
- ``report``: machine info, command line, JSON file and markdown section, for every suite.
- ``run``: the command line; runs the suites and writes the results.

Nothing here imports ``fermion``: Fermion is measured only through its HTTP API.
"""
