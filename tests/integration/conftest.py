"""Fixtures for tests/integration (shared ones are registered in tests/conftest.py)."""

from tests.fixtures.keystone import keystone  # noqa: F401  (session: a real Keystone)
