"""Connection tracking entries of a namespace (the ``conntrack`` tool).

Used when a floating IP goes away: NAT rules only apply to a connection's first packet, so
without deleting its entries an established connection through the old floating IP would
keep flowing. ``conntrack -D`` exits 1 when nothing matched; that is not an error here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fermion.linux.cmd import CommandError, run


def _delete(netns: str | None, *match: str) -> int:
    proc = run(["conntrack", "-D", *match], netns=netns, check=False)
    if proc.returncode not in (0, 1):
        raise CommandError(proc.args, proc.returncode, proc.stdout, proc.stderr)
    return _count(proc.stderr)


def _count(stderr: str) -> int:
    # "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted."
    match = re.search(r"(\d+) flow entr", stderr)
    return int(match.group(1)) if match else 0


def flush_address(netns: str | None, address: str) -> int:
    """Delete every entry whose original destination or reply destination is `address`
    (connections to it, and connections NATed to it); returns how many were deleted."""
    return _delete(netns, "--orig-dst", address) + _delete(netns, "--reply-dst", address)


def flush_stale_dnat(netns: str | None, targets: Mapping[str, str]) -> int:
    """Delete the entries of connections to a floating IP (a key of `targets`) that were
    NATed to another address than its target (the floating IP moved to another fixed IP).
    One ``conntrack -L`` for the namespace; returns how many entries were deleted."""
    if not targets:
        return 0
    out = run(["conntrack", "-L"], netns=netns, check=False).stdout
    stale = set()
    for line in out.splitlines():
        dst = re.search(r"\bdst=(\S+)", line)
        sources = re.findall(r"\bsrc=(\S+)", line)
        if dst and dst.group(1) in targets and len(sources) >= 2 \
                and sources[1] != targets[dst.group(1)]:  # replies come from the NAT target
            stale.add((dst.group(1), sources[1]))
    return sum(_delete(netns, "--orig-dst", fip, "--reply-src", old)
               for fip, old in sorted(stale))


def list_entries(netns: str | None) -> str:
    """``conntrack -L`` of `netns` as text (for people and tests)."""
    return run(["conntrack", "-L"], netns=netns, check=False).stdout
