"""Topologies are data: lab8 and a user's own file with three computes come up with every
smoke row PASS; a broken file is refused with a clear message and nothing is created."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from tests.e2e.conftest import LabRun, lab_tools_missing, start_lab, stop_lab
from tests.e2e.machine import Snapshot

pytestmark = pytest.mark.timeout(900)


def checked(run: LabRun, name: str, inspect) -> None:
    """The lab came up with every smoke row PASS, `inspect(run)` holds, and `down` leaves the
    machine as it was (the lab goes down whatever fails)."""
    try:
        assert run.up.returncode == 0, run.up.stdout + run.up.stderr
        assert re.search(rf"lab {name} up in [\d.]+ s: all smoke checks PASS", run.up.stdout)
        inspect(run)
    finally:
        stop_lab(run)
    assert run.leftovers() == []


def test_lab8(tmp_path_factory):
    def inspect(run):
        rows = run.live().state["smoke"]
        assert any(r["title"].startswith("VLAN across hosts") for r in rows), rows
        assert "mod_vlan_vid:100" in run.exec("compute1", "ovs-ofctl", "dump-flows",
                                                "br-ex").stdout
        assert "neutron-server" in run.cli("status").stdout  # the controller is the network
        assert "qrouter-" in run.exec("controller", "ip", "netns", "list").stdout  # node too
    checked(start_lab(tmp_path_factory, "lab8", "lab8"), "lab8", inspect)


def test_own_topology_with_three_computes(tmp_path_factory, tmp_path):
    text = (resources.files("fermion.lab") / "topologies" / "lab10.yaml").read_text()
    text = text.replace("name: lab10", "name: mylab").replace(
        "  labhost:\n", "  compute3:\n    roles: [compute]\n    interfaces:\n"
        "      enp0s8: {network: management, address: 198.18.0.23}\n"
        "      enp0s9: {network: underlay, address: 198.18.1.23}\n"
        "      enp0s10: {network: physnet}\n  labhost:\n").replace(
        "    demo-instance-3: {network: flat-network, host: compute2}",
        "    demo-instance-3: {network: flat-network, host: compute2}\n"
        "    demo-instance-4: {network: vxlan-network, host: compute3}")
    path = tmp_path / "mylab.yaml"
    path.write_text(text)

    def inspect(run):
        live = run.live()
        assert live.instance("demo-instance-4")["host"] == "compute3"
        ping = run.exec("demo-instance-4", "ping", "-c1", "-W2",
                        live.instance("demo-instance-1")["ip"])
        assert ping.returncode == 0, ping.stdout
    checked(start_lab(tmp_path_factory, "mylab", "--topology", str(path)), "mylab", inspect)


def test_broken_file_is_refused_before_anything_exists(tmp_path):
    reason = lab_tools_missing()
    if reason:
        pytest.skip(reason)
    text = (resources.files("fermion.lab") / "topologies" / "lab10.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("address: 198.18.1.22}", "address: 198.18.7.22}"))
    run = LabRun("lab10", tmp_path / "state", tmp_path / "logs", Snapshot.take())
    done = run.cli("up", "--topology", str(broken))
    assert done.returncode == 2
    line = next(n for n, ln in enumerate(broken.read_text().splitlines(), 1)
                if "198.18.7.22" in ln)
    assert done.stderr.strip() == (
        f"fermion lab up: {broken}:{line}: hosts.compute2.interfaces.enp0s9.address: "
        "198.18.7.22 is not a host address of 198.18.1.0/24")
    assert not run.state_dir.exists() and not run.log_dir.exists()
    assert run.leftovers() == []
