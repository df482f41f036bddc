"""Hub services: the rules. HTTP routes, Socket.IO namespaces and channel adapters call these."""
