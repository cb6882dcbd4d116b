"""Flow cookies that name their owner.

Layout of the 64-bit cookie::

    63........48 47..44 43...............................0
    AGENT_MARK   kind   owner value (44 bits)

``AGENT_MARK`` (0xfe01) is shared by every flow the agent installs, so "all our flows" is
exactly ``cookie=0xfe01000000000000/0xffff000000000000`` and nobody else's flow is touched by
stale cleanup. ``kind`` says what owns the flow; the owner value is the first 11 hex digits of
the owner's UUID (44 bits, the same prefix as ``tap<port_id[:11]>``), or a hash for owners
that are not UUIDs (tunnel peer addresses, remote group member addresses). ``decode`` turns a cookie from
``dump-flows`` back into (kind, prefix) and ``resolve`` finds the owner among known ids.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

AGENT_MARK = 0xFE01
MARK_SHIFT = 48
KIND_SHIFT = 44
VALUE_BITS = 44
VALUE_MASK = (1 << VALUE_BITS) - 1
AGENT_MASK = 0xFFFF << MARK_SHIFT
AGENT_BITS = AGENT_MARK << MARK_SHIFT

_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)


class Kind(IntEnum):
    BASE = 0  # the pipeline skeleton: table defaults, canary, drops
    NETWORK = 1  # per-network flows: VLAN translation, VNI mapping, flooding
    PORT = 2  # per-port flows: anti-spoofing, transient marking
    SG_RULE = 3  # security group rule flows
    TUNNEL = 4  # per tunnel peer flows (owner = peer's tunneling IP)
    REMOTE_PORT = 5  # l2population entries for a port on another host
    SG = 6  # a security group's conjunction (remote group rule) accept flows
    SG_ADDRESS = 7  # a remote group member's address flows (owner = the address)
    LEARNED = 0xF  # flows made by a learn() action: left alone by cleanup


@dataclass(frozen=True)
class Owner:
    kind: Kind
    value: int
    hashed: bool | None = None  # unknown when decoded

    @property
    def prefix(self) -> str:
        return f"{self.value:011x}"

    def __str__(self) -> str:
        if self.kind in (Kind.BASE, Kind.LEARNED):
            return self.kind.name.lower()
        return f"{self.kind.name.lower()}:{self.prefix}"


def owner_value(owner_id: str | None) -> int:
    """44 bits naming ``owner_id``: its UUID prefix, or a hash for other strings."""
    if not owner_id:
        return 0
    if _UUID.match(owner_id):
        return int(owner_id.replace("-", "")[:11], 16)
    digest = hashlib.sha256(owner_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") & VALUE_MASK


def cookie(kind: Kind, owner_id: str | None = None) -> int:
    return AGENT_BITS | (int(kind) << KIND_SHIFT) | owner_value(owner_id)


BASE = cookie(Kind.BASE)
LEARNED = cookie(Kind.LEARNED)
DEAD_PORT = cookie(Kind.PORT, "dead")  # drops for plugged ports no snapshot port claims


def is_ours(value: int) -> bool:
    return value & AGENT_MASK == AGENT_BITS


def is_learned(value: int) -> bool:
    return is_ours(value) and (value >> KIND_SHIFT) & 0xF == Kind.LEARNED


def decode(value: int) -> Owner | None:
    """The owner a cookie names, or None when the flow is not the agent's."""
    if not is_ours(value):
        return None
    kind = (value >> KIND_SHIFT) & 0xF
    try:
        kind = Kind(kind)
    except ValueError:
        return None
    return Owner(kind, value & VALUE_MASK)


def resolve(value: int, candidates: Iterable[str]) -> str | None:
    """The id among ``candidates`` that the cookie names (for ``trace``)."""
    owner = decode(value)
    if owner is None:
        return None
    for candidate in candidates:
        if owner_value(candidate) == owner.value:
            return candidate
    return None


def agent_cookie_match() -> str:
    """``ovs-ofctl`` cookie match selecting every flow of the agent, nothing else."""
    return f"cookie=0x{AGENT_BITS:016x}/0x{AGENT_MASK:016x}"
