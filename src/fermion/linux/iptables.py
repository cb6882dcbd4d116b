"""iptables verbs in a namespace: ``iptables-save``, ``iptables-restore --noflush``, ``-S``.

Backends: Debian's ``iptables`` is ``iptables-nft`` by default; ``iptables-legacy`` works
too, but one namespace must not mix them. :func:`detect_backend` says which one this host
uses (an explicit choice, else the backend of ``iptables -V``); the verbs then call that
backend's ``-save``/``-restore`` by their full names, so a later change of the system's
alternative does not split a namespace between two backends.

Only verbs: what to restore is computed by the caller (the L3 agent diffs its desired rule
set against ``save()``'s text and restores the difference).
"""

from __future__ import annotations

import re
import shutil

from fermion.linux.cmd import CommandError, run

BACKENDS = ("nft", "legacy")


def detect_backend(choice: str | None = None) -> str:
    """``nft`` or ``legacy``: `choice` when given (and not "auto"), else what ``iptables``
    on this host is (``iptables -V`` prints ``(nf_tables)`` or ``(legacy)``)."""
    if choice and choice != "auto":
        if choice not in BACKENDS:
            raise ValueError(f"unknown iptables backend {choice!r} (expected nft or legacy)")
        return choice
    if shutil.which("iptables"):
        try:
            version = run(["iptables", "-V"]).stdout
        except CommandError:
            version = ""
        if "nf_tables" in version:
            return "nft"
        if "legacy" in version:
            return "legacy"
    return "nft" if shutil.which("iptables-nft") else "legacy"


class Iptables:
    """iptables of one backend; every verb takes the namespace (None: this process's)."""

    def __init__(self, backend: str = "nft", *, ipv6: bool = False):
        if backend not in BACKENDS:
            raise ValueError(f"unknown iptables backend {backend!r}")
        self.backend = backend
        family = "ip6tables" if ipv6 else "iptables"
        self.save_cmd = f"{family}-{backend}-save"
        self.restore_cmd = f"{family}-{backend}-restore"
        self.cmd = f"{family}-{backend}"

    def save(self, netns: str | None) -> str:
        return run([self.save_cmd], netns=netns).stdout

    def restore(self, netns: str | None, text: str) -> None:
        run([self.restore_cmd, "--noflush", "-w", "10"], netns=netns, input=text)

    def list_rules(self, netns: str | None, table: str) -> str:
        """``iptables -t TABLE -S`` in `netns` (for people and tests)."""
        return run([self.cmd, "-t", table, "-S"], netns=netns).stdout


def has_rules(text: str) -> bool:
    """Whether ``iptables-save`` output holds any rule (not just empty built-in chains)."""
    return re.search(r"^-A ", text, re.MULTILINE) is not None
