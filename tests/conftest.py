"""Shared fixtures: one InfluxDB server per test session (started only by tests that ask for it)."""

from tests.influx_server import influx_server  # noqa: F401  (session fixture, shared by all modules)
