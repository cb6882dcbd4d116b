"""`fermion lab down`: remove everything a lab made, whatever state `up` left it in.

What a lab makes on this machine, and how each goes:

- capsules (each host, the fabric): killed by their holder pid from the state directory;
  every process inside dies with its PID namespace's init, and with the last process go the
  host's network namespaces (its own and its qrouter-/qdhcp-/guest namespaces, which are
  only bind-mounted in the host's private /run/netns), its veths and OVS devices, its
  iptables rules and its mounts;
- this machine's veth onto the management network (deleted first, so no address of the
  lab stays routable here even for the moment the kernel takes to free namespaces);
- the state directory. The log directory is kept, and named.

Nothing is looked up by name among the machine's processes or devices: only what the state
directory records.
"""

from __future__ import annotations

import shutil

from fermion.lab import plan as planner
from fermion.lab.state import LabPaths
from fermion.linux import capsule
from fermion.linux.cmd import run


def remove(paths: LabPaths) -> list[str]:
    """Remove the lab; returns what was removed (for the user), empty if nothing was there.
    The caller holds the lab's lock."""
    done = []
    state = paths.read()
    link = state.get("root_link") or planner.root_link_name(paths.name)
    if state.get("root_link") and run(["ip", "link", "show", "dev", link],
                                      check=False).returncode == 0:
        run(["ip", "link", "delete", "dev", link])
        done.append(f"device {link}")
    stopped = [d for d in paths.capsules() if capsule.stop(d)]
    if stopped:
        done.append(f"{len(stopped)} capsules ({', '.join(_name(d) for d in stopped)})")
    if paths.dir.exists():
        shutil.rmtree(paths.dir)
        done.append(f"{paths.dir}")
    return done


def _name(directory) -> str:
    return directory.parent.name
