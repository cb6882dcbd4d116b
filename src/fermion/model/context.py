"""Who is asking: the request's identity, as noauth headers or a Keystone token give it.

Roles follow Neutron's default policy personas: ``admin`` (everything), ``member``
(read/write within its project) and ``reader`` (read-only within its project).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Context:
    project_id: str | None
    user_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    project_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def can_write(self) -> bool:
        """Members and admins write; a reader (or a role-less user) only reads."""
        return self.is_admin or "member" in self.roles or "_member_" in self.roles

    @classmethod
    def admin(cls, project_id: str) -> Context:
        return cls(project_id=project_id, user_id=None,
                   roles=frozenset({"admin", "member", "reader"}))
