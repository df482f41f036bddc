"""Web chat (CHAT-1): the embeddable widget's REST endpoints and Socket.IO namespace."""

from channels.webchat.adapter import WebchatChannel

__all__ = ["WebchatChannel"]
