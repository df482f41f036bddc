"""HTTP API: validation, auth checks and problem responses around the hub services."""
