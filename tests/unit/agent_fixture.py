"""A host model shared by the agent unit tests: flat, VLAN and VXLAN networks on compute1."""

from fermion.agent.l2_model import HostModel, PhysBridge, allocate_local_vlans

NET_FLAT = "11111111-aaaa-4aaa-8aaa-000000000001"
NET_VLAN = "22222222-aaaa-4aaa-8aaa-000000000002"
NET_VX = "33333333-aaaa-4aaa-8aaa-000000000003"
PORT_A = "aaaaaaaa-0000-4000-8000-00000000000a"  # flat, port security, address pair
PORT_B = "bbbbbbbb-0000-4000-8000-00000000000b"  # vlan, port security off
PORT_C = "cccccccc-0000-4000-8000-00000000000c"  # vxlan, sg "web"
PORT_D = "dddddddd-0000-4000-8000-00000000000d"  # vxlan, sg "ssh"
PORT_U = "ffffffff-0000-4000-8000-00000000000f"  # vxlan, port security off
PORT_R = "eeeeeeee-0000-4000-8000-00000000000e"  # vxlan, on compute2
PORT_S = "5555aaaa-0000-4000-8000-000000000005"  # vxlan, stateless sg "free"
SG_WEB = "99999991-0000-4000-8000-000000000001"
SG_SSH = "99999992-0000-4000-8000-000000000002"
SG_FREE = "99999993-0000-4000-8000-000000000003"  # stateful = false
RULE_SSH = "88888881-0000-4000-8000-000000000001"
RULE_GRP = "88888882-0000-4000-8000-000000000002"
RULE_EGR = "88888883-0000-4000-8000-000000000003"
RULE_PING = "88888884-0000-4000-8000-000000000004"  # free: ingress ICMP echo request
RULE_OUT = "88888885-0000-4000-8000-000000000005"  # free: egress TCP to the network

# ofports
INT_PHYS, PATCH_TUN = 2, 3  # on br-int
PHY_PHYS = 1  # on br-phys
PATCH_INT, VX_NET1, VX_COMPUTE2 = 1, 2, 3  # on br-tun
OF_A, OF_B, OF_C, OF_D, OF_U, OF_S = 5, 6, 7, 8, 9, 10

MAC_A, MAC_B, MAC_C, MAC_D = ("fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b",
                              "fa:16:3e:00:00:0c", "fa:16:3e:00:00:0d")
MAC_U, MAC_S = "fa:16:3e:00:00:0f", "fa:16:3e:00:00:05"
MAC_PAIR, MAC_R = "fa:16:3e:00:01:00", "fa:16:3e:00:00:0e"


def _net(nid, ntype, physnet, sid):
    return {"id": nid, "segments": [{"provider:network_type": ntype,
                                     "provider:physical_network": physnet,
                                     "provider:segmentation_id": sid}]}


def _port(pid, net, mac, ips, host="compute1", **kw):
    return {"id": pid, "network_id": net, "mac_address": mac,
            "fixed_ips": [{"subnet_id": "s", "ip_address": ip} for ip in ips],
            "binding:host_id": host, "status": "ACTIVE", "port_security_enabled": True,
            "allowed_address_pairs": [], "security_groups": [], **kw}


SNAPSHOT = {
    "revision": 7, "host": "compute1",
    "networks": [_net(NET_FLAT, "flat", "physnet", None), _net(NET_VLAN, "vlan", "physnet", 100),
                 _net(NET_VX, "vxlan", None, 1001)],
    "ports": [
        _port(PORT_A, NET_FLAT, MAC_A, ["10.0.0.5", "2001:db8::5"],
              allowed_address_pairs=[{"ip_address": "10.0.0.100", "mac_address": MAC_PAIR}]),
        _port(PORT_B, NET_VLAN, MAC_B, ["10.2.0.6"], port_security_enabled=False),
        _port(PORT_C, NET_VX, MAC_C, ["10.1.0.7"], security_groups=[SG_WEB]),
        _port(PORT_D, NET_VX, MAC_D, ["10.1.0.8"], security_groups=[SG_SSH]),
        _port(PORT_U, NET_VX, MAC_U, ["10.1.0.10"], port_security_enabled=False),
        _port(PORT_R, NET_VX, MAC_R, ["10.1.0.9"], host="compute2"),
        _port(PORT_S, NET_VX, MAC_S, ["10.1.0.11"], security_groups=[SG_FREE]),
    ],
    "security_groups": [
        {"id": SG_WEB, "security_group_rules": [
            {"id": RULE_EGR, "direction": "egress", "ethertype": "IPv4", "protocol": None,
             "_protocol_number": None}]},
        {"id": SG_SSH, "security_group_rules": [
            {"id": RULE_SSH, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
             "_protocol_number": 6, "port_range_min": 22, "port_range_max": 22,
             "remote_ip_prefix": "192.168.0.0/24"},
            {"id": RULE_GRP, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
             "_protocol_number": 6, "remote_group_id": SG_WEB}]},
        {"id": SG_FREE, "stateful": False, "security_group_rules": [
            {"id": RULE_PING, "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp",
             "_protocol_number": 1, "port_range_min": 8},
            {"id": RULE_OUT, "direction": "egress", "ethertype": "IPv4", "protocol": "tcp",
             "_protocol_number": 6, "remote_ip_prefix": "10.1.0.0/24"}]},
    ],
    "security_group_members": {SG_WEB: ["10.1.0.7"]},
    "tunnel_endpoints": [
        {"host": "compute1", "tunneling_ip": "192.168.0.11", "tunnel_types": ["vxlan"]},
        {"host": "network1", "tunneling_ip": "192.168.0.10", "tunnel_types": ["vxlan"]},
        {"host": "compute2", "tunneling_ip": "192.168.0.12", "tunnel_types": ["vxlan"]},
    ],
}


def model(l2_population=True, arp_responder=True, snapshot=SNAPSHOT, ofports=None):
    vlans = allocate_local_vlans([n["id"] for n in snapshot["networks"]], {})
    return HostModel.from_snapshot(
        snapshot,
        ofports=ofports or {PORT_A: OF_A, PORT_B: OF_B, PORT_C: OF_C, PORT_D: OF_D,
                            PORT_U: OF_U, PORT_S: OF_S},
        local_vlans=vlans,
        phys_bridges=[PhysBridge("physnet", "br-phys", INT_PHYS, PHY_PHYS)],
        tunnel_ofports={"192.168.0.10": VX_NET1, "192.168.0.12": VX_COMPUTE2},
        patch_tun_ofport=PATCH_TUN, patch_int_ofport=PATCH_INT, local_ip="192.168.0.11",
        l2_population=l2_population, arp_responder=arp_responder)
