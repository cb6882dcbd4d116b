"""The API extensions Fermion implements, with Neutron's aliases: exactly these, no more.

Clients (openstackclient, openstacksdk, Ansible) gate features on these aliases, so an
alias appears here only when its behaviour is really there.
"""

from __future__ import annotations

UPDATED = "2026-11-27T00:00:00-00:00"

EXTENSIONS: list[tuple[str, str, str]] = [
    ("project-id", "project_id field enabled", "Extension that indicates that project_id is enabled."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
    ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, port, network, subnetpool", "Enables to set tag on resources with standard attribute."),
    ("tag-ports-during-bulk-creation", "Tag Ports During Bulk Creation", "Allow to tag ports during bulk creation"),
    ("revision-if-match", "If-Match constraints based on revision_number", "Extension indicating that If-Match based on revision_number is supported."),
    ("port-security", "Port Security", "Provides port security"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("multi-provider", "Multi Provider Network", "Expose mapping of virtual networks to multiple physical networks"),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    ("quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ("filter-validation", "Filter parameters validation", "Provides validation on filter parameters."),
    ("ip-substring-filtering", "IP address substring filtering", "Provides IP address substring filtering when listing ports"),
    ("empty-string-filtering", "Empty String Filtering Extension", "Allow filtering by attributes with empty string value"),
    ("network-ip-availability", "Network IP Availability", "Provides IP availability data for each network and subnet."),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
    ("dns-integration", "DNS Integration", "Provides integration with DNS."),
]
EXTENSIONS += [
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    ("extraroute-atomic", "Atomically add/remove extra routes", "Edit extra routes of a router on server side by atomically adding/removing extra routes"),
    ("fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute to Floating IP resource"),
    ("address-scope", "Address scope", "Address scopes extension."),
]
EXTENSIONS += [
    ("security-group", "security-group", "The security groups extension."),
    ("stateful-security-group", "Stateful security group", "Indicates if the security group is stateful or not"),
    ("security-groups-normalized-cidr", "Normalized CIDR field for security group rules", "Add new field with normalized remote_ip_prefix cidr in SG rule"),
    ("security-groups-rules-belongs-to-default-sg", "Security group rule belongs to the project's default security group", "Flag to determine if the security group rule belongs to the project's default security group"),
    ("port-security-groups-filtering", "Port filtering on security groups", "Provides security groups filtering when listing ports"),
]

EXTENSIONS += [
    ("agent", "agent", "The agent management extension."),
    ("dhcp_agent_scheduler", "DHCP Agent Scheduler", "Schedule networks among dhcp agents"),
    ("l3_agent_scheduler", "L3 Agent Scheduler", "Schedule routers among l3 agents"),
]


def extension_list() -> list[dict]:
    return [{"alias": alias, "name": name, "description": description, "updated": UPDATED,
             "links": []} for alias, name, description in EXTENSIONS]
