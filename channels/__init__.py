"""Channel adapters. Each talks to the hub only through its services and events."""
