"""Test support: real servers (the hub, PostgreSQL) started on loopback with time limits."""
