"""Benchmarks for Fermion: ``python -m bench`` (what ``make bench`` runs; ``--help``).

A suite measures one thing and writes one section of ``BENCHMARKS.md``; each is one
module with its config dataclass (every field a command-line option), its phases, and
``finish``/``section`` that turn the raw numbers into ratios, targets, notes and text:

- ``api``: Fermion against upstream neutron-server 29.0.0 (``peer_neutron``: installed into
  ``bench/.peer/venv``, run under uWSGI; ``clone_ports`` fills its port table) through the
  same plain HTTP client, one server at a time;
- ``feed``: the change feed with many long-polling watchers against a 1-watcher baseline;
- ``l2``, ``l3``, ``dhcp``: the agents on simulated hosts, run as the real ``fermion agent``
  commands (root); ``sg``: remote-group security groups at 1,000 ports through the L2 agent.
- ``labup`` (suite ``lab``): ``fermion lab up``/``down`` as a user runs them, with the
  peak memory of every daemon kind in the lab's hosts (root).

Shared: ``harness`` (statistics, CPU and load meters, progress, the report's JSON and its
section), ``procs`` (servers as tracked child processes, the HTTP client ``Api``), ``lab``
(one phase's server, ``fermion.lab.host`` hosts and agent processes, all removed at the
end), ``profile`` (an agent's ``--once`` pass with every command and step timed) and
``sections/<suite>.md`` (each section's prose, with ``{placeholders}`` for the numbers).

Data flows one way: a suite's ``run`` returns raw numbers; ``__main__`` puts them in a
report (date, command, machine, config) saved as ``bench/results/<suite>.json``;
``finish`` and ``section`` read only that report, so ``--render`` redoes every section from
the JSON files. Fermion is measured through its HTTP API and its commands; ``bench`` may
import ``fermion`` (the lab's hosts, ``fermion.linux`` verbs) but nothing in ``src/``
imports ``bench``.
"""
