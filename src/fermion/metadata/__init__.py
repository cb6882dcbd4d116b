"""The metadata service: what instances read from 169.254.169.254 (Nova's metadata API).

Served by ``fermion compute-api`` on port 8775, behind the metadata agent
(``fermion.agent.metadata_agent``, on network nodes), which finds the instance behind a
request and signs its id. ``tree.py`` is the EC2 and OpenStack trees (pure);
``service.py`` checks the agent's headers and signature, reads the instance from the
compute store and its ports from the Networking API (``fermion.compute``).

Imports fermion.compute; nothing of the network server, the agents or the host.
"""
