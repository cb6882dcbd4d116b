"""ML2 as Neutron has it, for the Open vSwitch mechanism driver only.

What lives here
  types.py     `TypeConfig`: the type drivers' rules (local, flat, vlan, vxlan, gre,
               geneve) from ``ml2_conf.ini``, built once by the plugin at server start:
               provider segment validation, tenant pools, MTU. Pure; settings that do not
               fit together raise ``config.ConfigError``.
  segments.py  segments in the database: tenant allocation from the pools, provider
               reservations, release.

Imports: db/, config, exceptions (part of plugin/: never api/, agent/, linux/, lab/).
"""
