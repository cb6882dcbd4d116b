"""Who is calling: ``noauth`` headers or a Keystone token (``auth_strategy``).

noauth: ``X-Project-Id`` (or ``X-Tenant-Id``), ``X-Roles`` and ``X-User-Id`` headers name the
caller; a request without them acts as admin of ``[fermion] noauth_project_id``. That is only
safe on loopback, which is why ``bind_host`` defaults to 127.0.0.1.
keystone: the token is validated by keystonemiddleware (``api/keystone.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from fermion.model.context import Context


class NoAuth:
    blocking = False  # header parsing only: no need for a worker thread

    def __init__(self, conf):
        self.default_project = conf.get("fermion", "noauth_project_id")

    def authenticate(self, headers: Mapping[str, str]) -> Context:
        project = headers.get("x-project-id") or headers.get("x-tenant-id")
        if not project:
            return Context.admin(self.default_project)
        roles = frozenset(r.strip().lower() for r in headers.get("x-roles", "member").split(",")
                          if r.strip())
        return Context(project_id=project, user_id=headers.get("x-user-id"), roles=roles)


def make_auth(conf):
    if conf.get("DEFAULT", "auth_strategy") == "keystone":
        from fermion.api.keystone import KeystoneAuth

        return KeystoneAuth(conf.section("keystone_authtoken"))
    return NoAuth(conf)
