"""The errors users see, named and worded as Neutron's (neutron-lib) so clients match on them.

Each class carries its HTTP status; the API renders any ``NeutronError`` as
``{"NeutronError": {"type": <class name>, "message": ..., "detail": ""}}``.
"""

from __future__ import annotations


class NeutronError(Exception):
    status = 500
    template = "An unknown exception occurred."

    def __init__(self, message: str | None = None, **kwargs: object):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.template % kwargs
            except (KeyError, TypeError):
                message = self.template
        self.message = message
        super().__init__(message)

    @property
    def type(self) -> str:
        return type(self).__name__


def _declare(name: str, base: type[NeutronError], template: str) -> type[NeutronError]:
    return type(name, (base,), {"template": template})


class BadRequest(NeutronError):
    status = 400
    template = "Bad %(resource)s request: %(msg)s."


class NotAuthorized(NeutronError):
    status = 403
    template = "Not authorized."


class NotFound(NeutronError):
    status = 404
    template = "An unknown exception occurred."


class Conflict(NeutronError):
    status = 409
    template = "A conflict occurred."


class HTTPBadRequest(BadRequest):
    """Attribute validation failures (Neutron raises webob's HTTPBadRequest for these)."""

    template = "%(msg)s"


def bad(msg: str) -> HTTPBadRequest:
    """A request that does not validate: 400 with ``msg`` as the whole message."""
    return HTTPBadRequest(msg=msg)


class InvalidInput(BadRequest):
    template = "Invalid input for operation: %(error_message)s."


class MalformedRequestBody(BadRequest):
    template = "Malformed request body: %(reason)s."


class PolicyNotAuthorized(NotAuthorized):
    template = "%(action)s is disallowed by policy"


class AdminRequired(NotAuthorized):
    template = "User does not have admin privileges: %(reason)s."


class HTTPUnauthorized(NeutronError):
    status = 401
    template = "Authentication required"


class HTTPNotFound(NotFound):
    template = "The resource could not be found."


class HTTPMethodNotAllowed(NeutronError):
    status = 405
    template = "The method %(method)s is not allowed for this resource."


class RevisionNumberConstraintFailed(NeutronError):
    status = 412
    template = "Constrained to %(expected)s, but current revision is %(current)s"


class HTTPRequestEntityTooLarge(NeutronError):
    status = 413
    template = "Request is too large."


class ServiceUnavailable(NeutronError):
    status = 503
    template = "The service is unavailable."


NetworkNotFound = _declare("NetworkNotFound", NotFound, "Network %(net_id)s could not be found.")
SubnetNotFound = _declare("SubnetNotFound", NotFound, "Subnet %(subnet_id)s could not be found.")
PortNotFound = _declare("PortNotFound", NotFound, "Port %(port_id)s could not be found.")
SubnetPoolNotFound = _declare(
    "SubnetPoolNotFound", NotFound, "Subnet pool %(subnetpool_id)s could not be found."
)
TagNotFound = _declare(
    "TagNotFound", NotFound, "Tag %(tag)s could not be found for %(resource)s %(resource_id)s."
)
ExtensionNotFound = _declare(
    "ExtensionNotFound", NotFound, "Extension with alias %(extension_alias)s does not exist."
)
QuotaResourceUnknown = _declare(
    "QuotaResourceUnknown", NotFound, "Unknown quota resources %(unknown)s."
)

NetworkInUse = _declare(
    "NetworkInUse",
    Conflict,
    "Unable to complete operation on network %(net_id)s. "
    "There are one or more ports still in use on the network.",
)
SubnetInUse = _declare(
    "SubnetInUse", Conflict, "Unable to complete operation on subnet %(subnet_id)s: %(reason)s."
)
SubnetPoolInUse = _declare(
    "SubnetPoolInUse",
    Conflict,
    "Unable to complete operation on subnet pool %(subnet_pool_id)s. %(reason)s.",
)
MacAddressInUse = _declare(
    "MacAddressInUse",
    Conflict,
    "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use.",
)
IpAddressInUse = _declare(
    "IpAddressInUse",
    Conflict,
    "Unable to complete operation for network %(net_id)s. "
    "The IP address %(ip_address)s is in use.",
)
IpAddressGenerationFailure = _declare(
    "IpAddressGenerationFailure", Conflict, "No more IP addresses available on network %(net_id)s."
)
VlanIdInUse = _declare(
    "VlanIdInUse",
    Conflict,
    "Unable to create the network. The VLAN %(vlan_id)s on physical network "
    "%(physical_network)s is in use.",
)
FlatNetworkInUse = _declare(
    "FlatNetworkInUse",
    Conflict,
    "Unable to create the flat network. Physical network %(physical_network)s is in use.",
)
TunnelIdInUse = _declare(
    "TunnelIdInUse", Conflict, "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."
)
OverQuota = _declare("OverQuota", Conflict, "Quota exceeded for resources: %(overs)s.")
TagLimitExceeded = _declare(
    "TagLimitExceeded", BadRequest, "The number of tags exceeds the limit of %(limit)s."
)
GatewayConflictWithAllocationPools = _declare(
    "GatewayConflictWithAllocationPools",
    Conflict,
    "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s.",
)
SubnetAllocationError = _declare(
    "SubnetAllocationError", Conflict, "Failed to allocate subnet: %(reason)s."
)

InvalidAllocationPool = _declare(
    "InvalidAllocationPool", BadRequest, "The allocation pool %(pool)s is not valid."
)
OverlappingAllocationPools = _declare(
    "OverlappingAllocationPools",
    Conflict,
    "Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet %(subnet_cidr)s.",
)
OutOfBoundsAllocationPool = _declare(
    "OutOfBoundsAllocationPool",
    BadRequest,
    "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s.",
)
InvalidIpForSubnet = _declare(
    "InvalidIpForSubnet",
    BadRequest,
    "IP address %(ip_address)s is not a valid IP for the specified subnet.",
)
InvalidIpForNetwork = _declare(
    "InvalidIpForNetwork",
    BadRequest,
    "IP address %(ip_address)s is not a valid IP for any of the subnets on the specified network.",
)
InvalidSharedSetting = _declare(
    "InvalidSharedSetting", Conflict, "Unable to reconfigure sharing settings for network "
    "%(network)s. Multiple tenants are using it."
)

NoNetworkAvailable = _declare(
    "NoNetworkAvailable",
    ServiceUnavailable,
    "Unable to create the network. No tenant network is available for allocation.",
)

L3PortInUse = _declare(
    "L3PortInUse",
    Conflict,
    "Port %(port_id)s has owner %(device_owner)s and therefore cannot be deleted directly "
    "via the port API.",
)
DNSNameServersExhausted = _declare(
    "DNSNameServersExhausted",
    BadRequest,
    "Unable to complete operation for %(subnet_id)s. The number of DNS nameservers exceeds "
    "the limit %(quota)s.",
)
HostRoutesExhausted = _declare(
    "HostRoutesExhausted",
    BadRequest,
    "Unable to complete operation for %(subnet_id)s. The number of host routes exceeds the "
    "limit %(quota)s.",
)
AllowedAddressPairExhausted = _declare(
    "AllowedAddressPairExhausted",
    BadRequest,
    "Maximum number of allowed address pairs %(quota)s exceeded.",
)
AddressPairAndPortSecurityRequired = _declare(
    "AddressPairAndPortSecurityRequired",
    Conflict,
    "Port Security must be enabled in order to have allowed address pairs on a port.",
)
PortSecurityAndIPRequiredForSecurityGroups = _declare(
    "PortSecurityAndIPRequiredForSecurityGroups",
    BadRequest,
    "Port security must be enabled and port must have an IP address in order to use "
    "security groups.",
)

# -- L3: routers, floating IPs, address scopes (neutron-lib's l3, extraroute, external_net,
# address_scope exceptions) -----------------------------------------------------------------

PortInUse = _declare(
    "PortInUse",
    Conflict,
    "Unable to complete operation on port %(port_id)s for network %(net_id)s. Port already "
    "has an attached device %(device_id)s.",
)
SubnetMismatchForPort = _declare(
    "SubnetMismatchForPort",
    BadRequest,
    "Subnet on port %(port_id)s does not match the requested subnet %(subnet_id)s.",
)
ExternalIpAddressExhausted = _declare(
    "ExternalIpAddressExhausted",
    BadRequest,
    "Unable to find any IP address on external network %(net_id)s.",
)
ExternalNetworkInUse = _declare(
    "ExternalNetworkInUse",
    Conflict,
    "External network %(net_id)s cannot be updated to be made non-external, since it has "
    "existing gateway ports.",
)
RouterNotFound = _declare("RouterNotFound", NotFound, "Router %(router_id)s could not be found")
RouterInUse = _declare("RouterInUse", Conflict, "Router %(router_id)s %(reason)s")
RouterInterfaceNotFound = _declare(
    "RouterInterfaceNotFound",
    NotFound,
    "Router %(router_id)s does not have an interface with id %(port_id)s",
)
RouterInterfaceNotFoundForSubnet = _declare(
    "RouterInterfaceNotFoundForSubnet",
    NotFound,
    "Router %(router_id)s has no interface on subnet %(subnet_id)s",
)
RouterInterfaceInUseByFloatingIP = _declare(
    "RouterInterfaceInUseByFloatingIP",
    Conflict,
    "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, "
    "as it is required by one or more floating IPs.",
)
RouterInterfaceInUseByRoute = _declare(
    "RouterInterfaceInUseByRoute",
    Conflict,
    "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, "
    "as it is required by one or more routes.",
)
RouterExternalGatewayInUseByFloatingIp = _declare(
    "RouterExternalGatewayInUseByFloatingIp",
    Conflict,
    "Gateway cannot be updated for router %(router_id)s, since a gateway to external network "
    "%(net_id)s is required by one or more floating IPs.",
)
InvalidRoutes = _declare(
    "InvalidRoutes", InvalidInput, "Invalid format for routes: %(routes)s, %(reason)s"
)
RoutesExhausted = _declare(
    "RoutesExhausted",
    BadRequest,
    "Unable to complete operation for %(router_id)s. The number of routes exceeds the "
    "maximum %(quota)s.",
)
FloatingIPNotFound = _declare(
    "FloatingIPNotFound", NotFound, "Floating IP %(floatingip_id)s could not be found"
)
ExternalGatewayForFloatingIPNotFound = _declare(
    "ExternalGatewayForFloatingIPNotFound",
    NotFound,
    "External network %(external_network_id)s is not reachable from subnet %(subnet_id)s.  "
    "Therefore, cannot associate Port %(port_id)s with a Floating IP.",
)
FloatingIPPortAlreadyAssociated = _declare(
    "FloatingIPPortAlreadyAssociated",
    Conflict,
    "Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port %(port_id)s "
    "using fixed IP %(fixed_ip)s, as that fixed IP already has a floating IP on external "
    "network %(net_id)s.",
)
AddressScopeNotFound = _declare(
    "AddressScopeNotFound", NotFound, "Address scope %(address_scope_id)s could not be found."
)
AddressScopeInUse = _declare(
    "AddressScopeInUse",
    Conflict,
    "Unable to complete operation on address scope %(address_scope_id)s. There are one or "
    "more subnet pools in use on the address scope.",
)
AddressScopeUpdateError = _declare(
    "AddressScopeUpdateError",
    BadRequest,
    "Unable to update address scope %(address_scope_id)s : %(reason)s.",
)
AddressScopePrefixConflict = _declare(
    "AddressScopePrefixConflict",
    Conflict,
    "Failed to associate address scope: subnetpools within an address scope must have "
    "unique prefixes.",
)
NetworkAddressScopeAffinityError = _declare(
    "NetworkAddressScopeAffinityError",
    BadRequest,
    "Subnets of the same address family hosted on the same network must all participate in "
    "the same address scope.",
)
IllegalSubnetPoolAssociationToAddressScope = _declare(
    "IllegalSubnetPoolAssociationToAddressScope",
    BadRequest,
    "Illegal subnetpool association: subnetpool %(subnetpool_id)s cannot be associated with "
    "address scope %(address_scope_id)s.",
)
IllegalSubnetPoolIpVersionAssociationToAddressScope = _declare(
    "IllegalSubnetPoolIpVersionAssociationToAddressScope",
    BadRequest,
    "Illegal subnetpool association: subnetpool %(subnetpool_id)s cannot associate with "
    "address scope %(address_scope_id)s because subnetpool ip_version is not %(ip_version)s.",
)
IllegalSubnetPoolUpdate = _declare(
    "IllegalSubnetPoolUpdate", BadRequest, "Illegal subnetpool update : %(reason)s."
)

# -- security groups (neutron's securitygroup extension, neutron-lib's port_security) ---------

SecurityGroupNotFound = _declare(
    "SecurityGroupNotFound", NotFound, "Security group %(id)s does not exist"
)
SecurityGroupRuleNotFound = _declare(
    "SecurityGroupRuleNotFound", NotFound, "Security group rule %(id)s does not exist"
)


class SecurityGroupInUse(Conflict):
    template = "Security Group %(id)s %(reason)s."

    def __init__(self, message: str | None = None, **kwargs: object):
        kwargs.setdefault("reason", "in use")
        super().__init__(message, **kwargs)


SecurityGroupCannotRemoveDefault = _declare(
    "SecurityGroupCannotRemoveDefault", Conflict,
    "Insufficient rights for removing default security group."
)
SecurityGroupCannotUpdateDefault = _declare(
    "SecurityGroupCannotUpdateDefault", Conflict, "Updating default security group not allowed."
)
SecurityGroupDefaultAlreadyExists = _declare(
    "SecurityGroupDefaultAlreadyExists", Conflict, "Default security group already exists."
)
SecurityGroupRuleExists = _declare(
    "SecurityGroupRuleExists", Conflict,
    "Security group rule already exists. Rule id is %(rule_id)s."
)
SecurityGroupConflict = _declare(
    "SecurityGroupConflict", Conflict, "Error %(reason)s while attempting the operation."
)
SecurityGroupInvalidPortRange = _declare(
    "SecurityGroupInvalidPortRange", InvalidInput,
    "For TCP/UDP protocols, port_range_min must be <= port_range_max"
)
SecurityGroupInvalidProtocolForPort = _declare(
    "SecurityGroupInvalidProtocolForPort", InvalidInput,
    "Ports cannot be specified for protocol %(protocol)s. Ports are only supported for "
    "%(valid_port_protocols)s."
)
SecurityGroupInvalidPortValue = _declare(
    "SecurityGroupInvalidPortValue", InvalidInput, "Invalid value for port %(port)s"
)
SecurityGroupInvalidIcmpValue = _declare(
    "SecurityGroupInvalidIcmpValue", InvalidInput,
    "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."
)
SecurityGroupEthertypeConflictWithProtocol = _declare(
    "SecurityGroupEthertypeConflictWithProtocol", InvalidInput,
    "Invalid ethertype %(ethertype)s for protocol %(protocol)s."
)
SecurityGroupMissingIcmpType = _declare(
    "SecurityGroupMissingIcmpType", InvalidInput,
    "ICMP code (port-range-max) %(value)s is provided but ICMP type (port-range-min) is "
    "missing."
)
SecurityGroupRuleInvalidProtocol = _declare(
    "SecurityGroupRuleInvalidProtocol", InvalidInput,
    "Security group rule protocol %(protocol)s not supported. Only protocol values "
    "%(values)s and integer representations [0 to 255] are supported."
)
SecurityGroupRuleInvalidEtherType = _declare(
    "SecurityGroupRuleInvalidEtherType", InvalidInput,
    "Security group rule for ethertype '%(ethertype)s' not supported. Allowed values are "
    "%(values)s."
)
SecurityGroupMultipleRemoteEntites = _declare(  # sic: Neutron's spelling
    "SecurityGroupMultipleRemoteEntites", InvalidInput,
    "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be "
    "provided."
)
SecurityGroupProtocolRequiredWithPorts = _declare(
    "SecurityGroupProtocolRequiredWithPorts", InvalidInput,
    "Must also specify protocol if port range is given."
)
SecurityGroupRuleParameterConflict = _declare(
    "SecurityGroupRuleParameterConflict", InvalidInput,
    "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"
)
InvalidCIDR = _declare("InvalidCIDR", BadRequest, "Invalid CIDR %(input)s given as IP prefix.")
PortSecurityPortHasSecurityGroup = _declare(
    "PortSecurityPortHasSecurityGroup", Conflict,
    "Port has security group associated. Cannot disable port security or IP address until "
    "security group is removed."
)

# -- agents, their scheduling and the change feed (neutron-lib's agent,
# dhcpagentscheduler, l3agentscheduler) --------------------------------------------------


class Gone(NeutronError):
    status = 410
    template = "The resource is gone."


ResyncRequired = _declare(
    "ResyncRequired",
    Gone,
    "Changes after revision %(since)s are no longer retained (the oldest kept is "
    "%(oldest)s); take a new snapshot (current revision %(revision)s).",
)
AgentNotFound = _declare("AgentNotFound", NotFound, "Agent %(id)s could not be found.")
InvalidDHCPAgent = _declare(
    "InvalidDHCPAgent", AgentNotFound,
    "Agent %(id)s is not a valid DHCP Agent or has been disabled",
)
InvalidL3Agent = _declare(
    "InvalidL3Agent", AgentNotFound, "Agent %(id)s is not a L3 Agent or has been disabled"
)
NetworkHostedByDHCPAgent = _declare(
    "NetworkHostedByDHCPAgent", Conflict,
    "The network %(network_id)s has been already hosted by the DHCP Agent %(agent_id)s.",
)
NetworkNotHostedByDhcpAgent = _declare(
    "NetworkNotHostedByDhcpAgent", Conflict,
    "The network %(network_id)s is not hosted by the DHCP agent %(agent_id)s.",
)
RouterHostedByL3Agent = _declare(
    "RouterHostedByL3Agent", Conflict,
    "The router %(router_id)s has been already hosted by the L3 Agent %(agent_id)s.",
)
RouterNotHostedByL3Agent = _declare(
    "RouterNotHostedByL3Agent", Conflict,
    "The router %(router_id)s is not hosted by L3 agent %(agent_id)s.",
)
