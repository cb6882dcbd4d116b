"""The agent resource's attribute map (Neutron's ``agent`` extension).

Agents are created by their own state reports (``POST /v2.0/fermion/agents/report``), not
through the API; admins may only change ``admin_state_up`` and ``description``.
"""

from __future__ import annotations

from fermion.model import validators as v
from fermion.model.attributes import BOOL, OBJ, STR, STR_N, Attr, _ro

AGENT: dict[str, Attr] = {
    "id": _ro(STR, filter="str", sort=True),
    "agent_type": _ro(STR, filter="str", sort=True),
    "binary": _ro(STR, filter="str", sort=True),
    "topic": _ro(STR, filter="str", sort=True),
    "host": _ro(STR, filter="str", sort=True),
    "admin_state_up": Attr(v.boolean, True, put=True, filter="bool", sort=True, schema=BOOL),
    "created_at": _ro(STR, sort=True),
    "started_at": _ro(STR, sort=True),
    "heartbeat_timestamp": _ro(STR, sort=True),
    "alive": _ro(BOOL, filter="bool"),
    "configurations": _ro(OBJ),
    "availability_zone": _ro(STR_N, filter="str", sort=True),
    "description": Attr(v.string(255), "", put=True, filter="str", sort=True,
                        schema={"type": "string", "maxLength": 255}),
    "resources_synced": _ro({"type": ["boolean", "null"]}),
}
