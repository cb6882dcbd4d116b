"""The device owners the server gives meaning to (neutron-lib's ``DEVICE_OWNER_*``).

A port's ``device_owner`` says which service made it; ``network:*`` owners are trusted
(no port security) and only the network's owner or an admin may set them.
"""

DHCP = "network:dhcp"
ROUTER_GW = "network:router_gateway"
ROUTER_INTF = "network:router_interface"
# Every kind of router interface (Neutron's ROUTER_INTERFACE_OWNERS; Fermion makes only
# the first, legacy routers being the only kind, but honours the others as Neutron does).
ROUTER_INTF_OWNERS = (ROUTER_INTF, "network:router_interface_distributed",
                      "network:ha_router_replicated_interface")
FLOATINGIP = "network:floatingip"
# Ports only their router's or floating IP's API removes (Neutron's router_device_owners).
ROUTER_OWNED = (*ROUTER_INTF_OWNERS, ROUTER_GW, FLOATINGIP)
