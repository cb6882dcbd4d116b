"""Topology files: the shipped labs load; broken files are refused naming line and key;
--computes/--instances derive valid topologies."""

import re

import pytest

from fermion.lab import topofile
from fermion.lab.topofile import TopologyError
from fermion.lab.topology import scaled

LAB10 = topofile.load("lab10")


def test_shipped_topologies_load():
    assert topofile.shipped() == ["lab10", "lab8"]
    assert [h.name for h in LAB10.hosts] == ["controller", "network", "compute1", "compute2",
                                             "labhost"]
    assert LAB10.api_address() == "198.18.0.11"
    assert LAB10.labhost_address() == "10.0.2.2"
    assert LAB10.network("physnet").gateway.address == "172.16.0.1/24"
    assert LAB10.host("compute1").on("underlay").address == "198.18.1.21/24"
    assert [i.name for i in LAB10.demo.instances] == [
        "demo-instance-1", "demo-instance-2", "demo-instance-3"]
    lab8 = topofile.load("lab8")
    assert lab8.controller.roles == ("controller", "network")
    assert lab8.demo.network("vlan-network").segment == 100
    assert not lab8.of_kind("underlay")


def lab10_text() -> str:
    return (topofile.resources.files("fermion.lab") / "topologies" / "lab10.yaml").read_text()


def refused(text: str) -> str:
    with pytest.raises(TopologyError) as caught:
        topofile.loads(text, "my.yaml")
    return str(caught.value)


def line_of(text: str, needle: str) -> int:
    return text.splitlines().index(next(ln for ln in text.splitlines() if needle in ln)) + 1


@pytest.mark.parametrize("old, new, key, message", [
    ("roles: [compute]\n    interfaces:\n      enp0s8: {network: management, address: 198.18.0.21}",
     "roles: [compte]\n    interfaces:\n      enp0s8: {network: management, address: 198.18.0.21}",
     "hosts.compute1.roles", "'compte' is not one of controller, network, compute, labhost"),
    ("address: 198.18.0.22}", "address: 198.18.9.22}",
     "hosts.compute2.interfaces.enp0s8.address", "198.18.9.22 is not a host address of "
                                                 "198.18.0.0/24"),
    ("address: 198.18.0.22}", "address: 198.18.0.21}",
     "hosts.compute2.interfaces.enp0s8.address", "198.18.0.21 is already used by "
                                                 "hosts.compute1.interfaces.enp0s8"),
    ("enp0s9: {network: underlay, address: 198.18.1.22}",
     "enp0s9: {network: undrelay, address: 198.18.1.22}",
     "hosts.compute2.interfaces.enp0s9.network", "no network 'undrelay'"),
    ("demo-instance-2: {network: vxlan-network, host: compute2}",
     "demo-instance-2: {network: vxlan-network, host: compute9}",
     "demo.instances.demo-instance-2.host", "'compute9' is not a compute host"),
    ("    kind: underlay", "    kind: underlay\n    colour: blue",
     "networks.underlay.colour", "unknown key"),
    ("    cidr: 198.18.1.0/24", "    cidr: 198.18.1.0/33",
     "networks.underlay.cidr", "is not a network address with prefix"),
])
def test_broken_files_name_line_and_key(old, new, key, message):
    text = lab10_text()
    assert old in text
    broken = text.replace(old, new, 1)
    error = refused(broken)
    match = re.match(r"my\.yaml:(\d+): (\S+): (.*)", error)
    assert match, error
    assert match.group(2) == key
    assert message in match.group(3)
    changed = next(n for n, (a, b) in enumerate(zip(text.splitlines(), broken.splitlines(),
                                                     strict=False), 1) if a != b)
    assert abs(int(match.group(1)) - changed) <= 2, (error, changed)


def test_not_yaml_and_missing_parts():
    assert re.match(r"my\.yaml:3: not valid YAML", refused("name: x\nhosts:\n  - a: b: c\n"))
    assert "missing key 'hosts'" in refused("name: x\nnetworks: {}\n")
    assert "needs exactly 1 host(s) with role labhost" in refused(
        lab10_text().replace("roles: [labhost]", "roles: [compute]").replace(
            "eth0: {network: outside, address: 10.0.2.2}",
            "eth0: {network: management, address: 198.18.0.30}"))


def test_no_file_or_unknown_name():
    assert "no topology 'lab99'" in refused_load("lab99")
    assert "cannot read topology file /nonexistent.yaml" in refused_load("/nonexistent.yaml")


def refused_load(name):
    with pytest.raises(TopologyError) as caught:
        topofile.load(name)
    return str(caught.value)


def test_scaled_computes_and_instances():
    topo = scaled(LAB10, computes=8, instances=40)
    topofile.revalidate(topo)
    computes = topo.with_role("compute")
    assert [h.name for h in computes] == [f"compute{k}" for k in range(1, 9)]
    assert computes[7].on("management").address == "198.18.0.28/24"
    assert computes[7].on("underlay").address == "198.18.1.28/24"
    assert len(topo.demo.instances) == 40
    assert [i.host for i in topo.demo.instances[:9]] == [f"compute{k}" for k in range(1, 9)] \
        + ["compute1"]
    assert [i.network for i in topo.demo.instances[:4]] == [
        "vxlan-network", "vxlan-network", "flat-network", "vxlan-network"]
    assert [i.name for i in topo.demo.instances if i.floating_ip] == ["demo-instance-1"]


def test_scaled_out_of_range_is_refused():
    with pytest.raises(TopologyError, match="is not a host address of 198.18.0.0/24"):
        topofile.revalidate(scaled(LAB10, computes=240))
