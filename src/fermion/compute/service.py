"""The Compute API's state: its settings (from nova.conf), store and Networking API client.

One ``ComputeService`` serves the three APIs of ``fermion compute-api`` (compute, image,
metadata) in one process; the metadata service reads the same store.
"""

from __future__ import annotations

from dataclasses import dataclass

from fermion.compute.neutron import Networking
from fermion.compute.store import DEFAULT_URL, Store


@dataclass(frozen=True)
class Settings:
    default_project: str = "00000000000000000000000000000000"
    default_zone: str = "nova"            # [DEFAULT] default_availability_zone
    default_schedule_zone: str | None = None
    service_down_time: float = 60.0
    quota_instances: int = 10
    quota_key_pairs: int = 100
    quota_metadata_items: int = 128
    dhcp_domain: str = "novalocal"        # [api] dhcp_domain
    shared_secret: str = ""               # [neutron] metadata_proxy_shared_secret
    metadata_cache_expiration: float = 15.0
    networking_url: str = "http://127.0.0.1:9696"

    @classmethod
    def from_conf(cls, conf) -> Settings:
        return cls(
            default_project=conf.get("fermion", "noauth_project_id"),
            default_zone=conf.get("DEFAULT", "default_availability_zone"),
            default_schedule_zone=conf.get("DEFAULT", "default_schedule_zone") or None,
            service_down_time=conf.get("DEFAULT", "service_down_time"),
            quota_instances=conf.get("quota", "instances"),
            quota_key_pairs=conf.get("quota", "key_pairs"),
            quota_metadata_items=conf.get("quota", "metadata_items"),
            dhcp_domain=conf.get("api", "dhcp_domain"),
            shared_secret=conf.get("neutron", "metadata_proxy_shared_secret"),
            metadata_cache_expiration=conf.get("api", "metadata_cache_expiration"),
            networking_url=conf.get("neutron", "endpoint_override"))


def store_url(conf) -> str:
    """nova.conf's ``[database] connection`` when the files set it, else the compute
    store's own default (never the network server's default database)."""
    if conf.given("database", "connection"):
        return conf.get("database", "connection")
    return DEFAULT_URL


class ComputeService:
    def __init__(self, settings: Settings, store: Store, networking: Networking | None = None):
        self.settings = settings
        self.store = store
        self.networking = networking or Networking(settings.networking_url)

    def close(self) -> None:
        self.networking.close()
        self.store.dispose()
