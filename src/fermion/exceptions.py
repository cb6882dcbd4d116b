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
