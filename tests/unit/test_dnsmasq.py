"""dnsmasq files and command line rendered from a snapshot (pure; no system access)."""

from __future__ import annotations

from pathlib import Path

from fermion.agent import dnsmasq
from fermion.agent.dhcp_model import DhcpConf, desired_networks, dhcp_device_id

HOST = "net1"
NET = "11111111-1111-1111-1111-111111111111"
S4 = "44444444-4444-4444-4444-444444444444"
S4B = "45454545-4545-4545-4545-454545454545"
S6 = "66666666-6666-6666-6666-666666666666"
DHCP_PORT = "dddddddd-dddd-dddd-dddd-dddddddddddd"
VM_PORT = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
ROUTER_PORT = "rrrrrrrr-rrrr-rrrr-rrrr-rrrrrrrrrrrr"


def subnet(sid, cidr, **kw):
    return {"id": sid, "network_id": NET, "cidr": cidr, "ip_version": 6 if ":" in cidr else 4,
            "enable_dhcp": True, "gateway_ip": kw.pop("gateway_ip", None),
            "dns_nameservers": [], "host_routes": [], "ipv6_address_mode": None, **kw}


def port(pid, mac, ips, **kw):
    return {"id": pid, "network_id": NET, "mac_address": mac, "device_owner": "",
            "device_id": "", "fixed_ips": [{"subnet_id": s, "ip_address": ip} for s, ip in ips],
            "dns_assignment": [], "extra_dhcp_opts": [], **kw}


def snapshot(subnets, ports, dhcp=True):
    return {"networks": [{"id": NET, "mtu": 1450}], "subnets": subnets, "ports": ports,
            "dhcp_networks": [NET] if dhcp else []}


def dhcp_port(ips):
    return port(DHCP_PORT, "fa:16:3e:00:00:02", ips, device_owner="network:dhcp",
                device_id=dhcp_device_id(HOST, NET))


def one_network(subnets, ports, conf=DhcpConf()):
    nets = desired_networks(snapshot(subnets, ports), HOST, conf)
    return nets[NET]


def test_hosts_opts_and_argv_for_an_isolated_ipv4_subnet():
    conf = DhcpConf(enable_isolated_metadata=True, dnsmasq_dns_servers=("192.0.2.53",))
    vm = port(VM_PORT, "fa:16:3e:00:00:05", [(S4, "10.0.0.5")],
              dns_assignment=[{"hostname": "vm1", "ip_address": "10.0.0.5"}],
              extra_dhcp_opts=[{"opt_name": "domain-search", "opt_value": "example.org",
                                "ip_version": 4},
                               {"opt_name": "42", "opt_value": "10.0.0.99", "ip_version": 4}])
    net = one_network([subnet(S4, "10.0.0.0/24", gateway_ip="10.0.0.1",
                              host_routes=[{"destination": "192.168.0.0/16",
                                            "nexthop": "10.0.0.254"}])],
                      [vm, dhcp_port([(S4, "10.0.0.2")])], conf)
    assert net.metadata
    assert dnsmasq.render_hosts(net, conf) == (
        "fa:16:3e:00:00:05,set:port-aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa,vm1.openstacklocal,"
        "10.0.0.5\n"
        "fa:16:3e:00:00:02,host-10-0-0-2.openstacklocal,10.0.0.2\n")
    assert dnsmasq.render_addn_hosts(net, conf) == (
        "10.0.0.5\tvm1.openstacklocal\tvm1\n"
        "10.0.0.2\thost-10-0-0-2.openstacklocal\thost-10-0-0-2\n")
    routes = "192.168.0.0/16,10.0.0.254,169.254.169.254/32,10.0.0.2,0.0.0.0/0,10.0.0.1"
    tag = f"tag:subnet-{S4}"
    assert dnsmasq.render_opts(net, conf).splitlines() == [
        f"{tag},option:dns-server,10.0.0.2",
        f"{tag},option:classless-static-route,{routes}",
        f"{tag},249,{routes}",
        f"{tag},option:router,10.0.0.1",
        f"tag:port-{VM_PORT},option:domain-search,example.org",
        f"tag:port-{VM_PORT},42,10.0.0.99",
    ]
    paths = dnsmasq.Paths(Path("/s") / NET)
    assert dnsmasq.render_argv(net, conf, paths, "tapdddddddd-dd") == [
        "dnsmasq", "--no-hosts", "--no-resolv", f"--pid-file=/s/{NET}/pid",
        f"--dhcp-hostsfile=/s/{NET}/host", f"--addn-hosts=/s/{NET}/addn_hosts",
        f"--dhcp-optsfile=/s/{NET}/opts", f"--dhcp-leasefile=/s/{NET}/leases",
        "--interface=tapdddddddd-dd", "--except-interface=lo", "--bind-dynamic",
        f"--dhcp-range=set:subnet-{S4},10.0.0.0,static,255.255.255.0,86400s",
        "--dhcp-option-force=option:mtu,1450", "--dhcp-lease-max=16777216",
        "--conf-file=/dev/null", "--server=192.0.2.53", "--domain=openstacklocal"]


def test_router_interface_means_not_isolated_and_null_gateway_suppresses_router():
    conf = DhcpConf(enable_isolated_metadata=True, dnsmasq_local_resolv=True)
    router = port(ROUTER_PORT, "fa:16:3e:00:00:01", [(S4, "10.0.0.1")],
                  device_owner="network:router_interface")
    net = one_network([subnet(S4, "10.0.0.0/24", gateway_ip="10.0.0.1",
                              dns_nameservers=["8.8.8.8", "1.1.1.1"]),
                       subnet(S4B, "10.1.0.0/24")],
                      [router, dhcp_port([(S4, "10.0.0.2"), (S4B, "10.1.0.2")])], conf)
    assert net.metadata  # the second subnet has no router
    opts = dnsmasq.render_opts(net, conf).splitlines()
    assert f"tag:subnet-{S4},option:dns-server,8.8.8.8,1.1.1.1" in opts
    # routed subnet: no metadata route, the other subnet on-link, then the default route
    assert (f"tag:subnet-{S4},option:classless-static-route,"
            "10.1.0.0/24,0.0.0.0,0.0.0.0/0,10.0.0.1") in opts
    assert f"tag:subnet-{S4},option:router,10.0.0.1" in opts
    assert (f"tag:subnet-{S4B},option:classless-static-route,"
            "169.254.169.254/32,10.1.0.2,10.0.0.0/24,0.0.0.0") in opts
    assert f"tag:subnet-{S4B},option:router" in opts
    argv = dnsmasq.render_argv(net, conf, dnsmasq.Paths(Path("/s")), "tapx")
    assert "--no-resolv" not in argv
    assert net.dhcp_port is not None
    assert sorted(net.dhcp_cidrs()) == ["10.0.0.2/24", "10.1.0.2/24"]


def test_no_metadata_without_the_options_and_no_range_before_the_dhcp_port():
    net = one_network([subnet(S4, "10.0.0.0/24", gateway_ip="10.0.0.1")],
                      [port(VM_PORT, "fa:16:3e:00:00:05", [(S4, "10.0.0.5")])])
    assert not net.metadata and net.dhcp_port is None
    assert dnsmasq.render_ranges(net, DhcpConf()) == []
    assert "classless" not in dnsmasq.render_opts(net, DhcpConf())


def test_force_metadata_even_with_a_router():
    conf = DhcpConf(force_metadata=True)
    router = port(ROUTER_PORT, "fa:16:3e:00:00:01", [(S4, "10.0.0.1")],
                  device_owner="network:router_interface")
    net = one_network([subnet(S4, "10.0.0.0/24", gateway_ip="10.0.0.1")],
                      [router, dhcp_port([(S4, "10.0.0.2")])], conf)
    assert net.metadata
    assert "169.254.169.254/32,10.0.0.2" in dnsmasq.render_opts(net, conf)


def test_ipv6_stateful_stateless_and_slaac():
    s6a = subnet(S6, "2001:db8::/64", ipv6_address_mode="dhcpv6-stateful")
    s6b = subnet(S4B, "2001:db8:1::/64", ipv6_address_mode="dhcpv6-stateless",
                 dns_nameservers=["2001:db8::53"])
    s6c = subnet(S4, "2001:db8:2::/64", ipv6_address_mode="slaac")
    vm = port(VM_PORT, "fa:16:3e:00:00:05",
              [(S6, "2001:db8::5"), (S4B, "2001:db8:1::5"), (S4, "2001:db8:2::5")])
    net = one_network([s6a, s6b, s6c],
                      [vm, dhcp_port([(S6, "2001:db8::2"), (S4B, "2001:db8:1::2"),
                                      (S4, "2001:db8:2::2")])])
    conf = DhcpConf()
    hosts = dnsmasq.render_hosts(net, conf).splitlines()
    assert "fa:16:3e:00:00:05,host-2001-db8--5.openstacklocal,[2001:db8::5]" in hosts
    assert "fa:16:3e:00:00:05,host-2001-db8-1--5.openstacklocal" in hosts  # stateless
    assert not any("2001:db8:2::" in h for h in hosts)  # SLAAC: not dnsmasq's
    ranges = dnsmasq.render_ranges(net, conf)
    assert ranges == [f"--dhcp-range=set:subnet-{S6},2001:db8::,static,64,86400s",
                      f"--dhcp-range=set:subnet-{S4B},2001:db8:1::,static,64,86400s"]
    opts = dnsmasq.render_opts(net, conf).splitlines()
    assert f"tag:subnet-{S6},option6:dns-server,[2001:db8::2]" in opts
    assert f"tag:subnet-{S4B},option6:dns-server,[2001:db8::53]" in opts
    assert f"tag:subnet-{S6},option6:domain-search,openstacklocal" in opts


def test_argv_is_deterministic_and_ignores_ports():
    conf = DhcpConf()
    subnets = [subnet(S4, "10.0.0.0/24", gateway_ip="10.0.0.1")]
    a = one_network(subnets, [dhcp_port([(S4, "10.0.0.2")])])
    b = one_network(subnets, [dhcp_port([(S4, "10.0.0.2")]),
                              port(VM_PORT, "fa:16:3e:00:00:05", [(S4, "10.0.0.5")])])
    paths = dnsmasq.Paths(Path("/s"))
    assert dnsmasq.render_argv(a, conf, paths, "t") == dnsmasq.render_argv(b, conf, paths, "t")
    assert a != b  # but the desired state differs (hosts file)
    lease = DhcpConf(dhcp_lease_duration=-1)
    assert dnsmasq.render_ranges(a, lease)[0].endswith(",infinite")


def test_networks_without_dhcp_subnets_or_not_scheduled_are_not_served():
    s = subnet(S4, "10.0.0.0/24", enable_dhcp=False)
    assert desired_networks(snapshot([s], []), HOST, DhcpConf()) == {}
    s = subnet(S4, "10.0.0.0/24")
    assert desired_networks(snapshot([s], [], dhcp=False), HOST, DhcpConf()) == {}


def test_a_dhcp_port_made_by_the_agent_is_in_the_files_before_the_next_snapshot():
    """The agent creates its port after the snapshot was taken; serving the network with
    it must give what the next snapshot (which lists the port) gives, so no reload."""
    from fermion.agent.dhcp_model import with_dhcp_port

    subnets = [subnet(S4, "10.0.0.0/24", gateway_ip="10.0.0.1")]
    vm = port(VM_PORT, "fa:16:3e:00:00:01", [(S4, "10.0.0.5")],
              extra_dhcp_opts=[{"opt_name": "mtu", "opt_value": "1400"}])
    before = one_network(subnets, [vm])
    made = dhcp_port([(S4, "10.0.0.2")])
    after = one_network(subnets, [vm, made])
    assert with_dhcp_port(before, made) == after
    assert dnsmasq.render_files(with_dhcp_port(before, made), DhcpConf()) == \
        dnsmasq.render_files(after, DhcpConf())
