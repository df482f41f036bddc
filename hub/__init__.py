"""The hub: contacts, conversations, the ACD, agents, events, auth and the HTTP/Socket.IO API."""

__version__ = "0.1.0"
