"""What each lab host is made of (pure planning): INI files from the samples with the host's
values, bridges, routes, the gateway's iptables, the wiring, the capsule file system."""

import configparser

from fermion.lab import ini, topofile
from fermion.lab.plan import fabric_plan, host_plan, mount_script

LAB10 = topofile.load("lab10")
LAB8 = topofile.load("lab8")


def parsed(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_render_keeps_comments_replaces_and_appends():
    text = "# head\n[a]\n# about x\nx = 1\ny = 2\n\n[b]\nz = 3\n"
    out = ini.render(text, {"a": {"x": "10", "w": "new"}, "c": {"k": "v"}})
    assert out == "# head\n[a]\n# about x\nx = 10\ny = 2\nw = new\n\n[b]\nz = 3\n\n[c]\nk = v\n"
    assert ini.render(text, {}) == text


def test_samples_are_valid_for_fermion():
    from fermion.config import load

    for name in ini.SAMPLES:
        assert ini.sample_text(name).startswith("#")
    # every option of every sample is one Fermion knows (no warnings on a real host)
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("fermion.config").addHandler(handler)
    try:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for name in ini.SAMPLES:
                path = f"{tmp}/{name}"
                open(path, "w").write(ini.sample_text(name))
                paths.append(path)
            load(paths)
    finally:
        logging.getLogger("fermion.config").removeHandler(handler)
    assert [r.getMessage() for r in records] == []


def test_compute_host_plan():
    plan = host_plan(LAB10, LAB10.host("compute1"))
    ovs_ini = parsed(plan.files["/etc/neutron/plugins/ml2/openvswitch_agent.ini"])
    assert ovs_ini["ovs"]["local_ip"] == "198.18.1.21"
    assert ovs_ini["ovs"]["bridge_mappings"] == "physnet:br-ex"
    assert ovs_ini["ovs"]["datapath_type"] == "netdev"
    assert ovs_ini["agent"]["tunnel_types"] == "vxlan"
    assert [(b.name, b.nics, b.address) for b in plan.bridges] == [
        ("br-phy", ("enp0s9",), "198.18.1.21/24"), ("br-ex", ("enp0s10",), None)]
    assert plan.addresses == [("enp0s8", "198.18.0.21/24")]
    assert [d.argv for d in plan.daemons] == [(
        "fermion", "agent", "l2", "--server", "http://controller:9696",
        "--config-file", "/etc/neutron/neutron.conf",
        "--config-file", "/etc/neutron/plugins/ml2/openvswitch_agent.ini")]
    assert "198.18.0.11\tcontroller" in plan.hosts_file
    assert plan.iptables is None and plan.routes == [] and not plan.forwarding


def test_network_node_routes_the_flat_network_to_labhost():
    plan = host_plan(LAB10, LAB10.host("network"))
    assert [d.name for d in plan.daemons] == ["neutron-openvswitch-agent", "neutron-dhcp-agent",
                                              "neutron-l3-agent"]
    assert ("br-ex", ("enp0s10",), "172.16.0.1/24") in [(b.name, b.nics, b.address)
                                                         for b in plan.bridges]
    assert plan.forwarding and plan.routes == [("default", "10.0.2.2")]
    rules = plan.iptables.splitlines()
    assert "-A POSTROUTING -o enp0s3 -j MASQUERADE" in rules
    assert ":FORWARD DROP [0:0]" in rules
    assert "-A FORWARD -i br-ex -j ACCEPT" in rules
    assert "-A FORWARD -i enp0s3 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" in rules
    labhost = host_plan(LAB10, LAB10.labhost)
    assert labhost.routes == [("172.16.0.0/24", "10.0.2.15")]
    assert labhost.daemons == [] and not labhost.forwarding and not labhost.ovs


def test_controller_serves_the_api_on_its_management_address():
    plan = host_plan(LAB10, LAB10.controller)
    conf = parsed(plan.files["/etc/neutron/neutron.conf"])
    assert conf["DEFAULT"]["bind_host"] == "198.18.0.11"
    assert conf["database"]["connection"] == "sqlite:////var/lib/neutron/neutron.sqlite"
    assert [d.argv[:2] for d in plan.daemons] == [("fermion", "server")]
    assert not plan.ovs


def test_lab8_has_no_tunnels_and_its_config_overrides():
    plan = host_plan(LAB8, LAB8.controller)
    assert [d.name for d in plan.daemons] == ["neutron-server", "neutron-openvswitch-agent",
                                              "neutron-dhcp-agent", "neutron-l3-agent"]
    ovs_ini = parsed(plan.files["/etc/neutron/plugins/ml2/openvswitch_agent.ini"])
    assert ovs_ini["agent"]["tunnel_types"] == "" and ovs_ini["ovs"]["local_ip"] == ""
    ml2 = parsed(plan.files["/etc/neutron/plugins/ml2/ml2_conf.ini"])
    assert ml2["ml2"]["tenant_network_types"] == "vlan"
    assert ml2["ml2_type_vlan"]["network_vlan_ranges"] == "physnet:100:200"
    assert host_plan(LAB8, LAB8.labhost).addresses == [("eth0", "172.16.0.1/24")]


def test_fabric_names_fit_and_are_unique():
    from fermion.lab.topology import scaled

    for topo in (LAB10, LAB8, scaled(LAB10, computes=12)):
        fp = fabric_plan(topo)
        names = [w.fabric_end for w in fp.wires] + list(fp.bridges.values()) + [fp.root_peer]
        assert len(names) == len(set(names))
        assert all(0 < len(n) <= 15 for n in names + [fp.root_link])
    assert fabric_plan(LAB10).root_link == "fl-lab10"
    assert fabric_plan(LAB10).root_address == "198.18.0.1/24"


def test_mount_script_moves_a_prepared_run_and_overlays():
    script = mount_script(hostname="network", state="/s/network", logs="/l/network")
    lines = script.splitlines()
    assert lines.index("mount -n --move /s/network/.run /run") < lines.index(
        "mount -n -t overlay overlay -o lowerdir=/etc,upperdir=/run/fermion/host/etc.upper,"
        "workdir=/run/fermion/host/etc.work /etc")
    assert "mount -n --bind /run/fermion/log /var/log" in lines
    assert "hostname network" in lines
