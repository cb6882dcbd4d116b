"""Test-suite wide configuration: fixtures live in tests/fixtures/ and are registered here."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.server",
    "tests.fixtures.hosts",
    "tests.fixtures.agents",
    "tests.fixtures.compute",
    "tests.fixtures.fault_proxy",
]
