"""The call table: every call the service runs, and the indexes SIP and hub events find a call by.

``CallService`` owns one; its parts (voice/calls/signalling.py, inbound.py, acd.py, control.py)
read and update it through the service. Pure bookkeeping: no SIP, no media, no hub.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voice.calls.call import Call

if TYPE_CHECKING:
    from voice.calls.endpoints import SipPhoneEndpoint
    from voice.sip.transaction import TransactionKey

__all__ = ["CallTable"]


class CallTable:
    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}  # by our call id (``service.calls``)
        self._by_dialog: dict[tuple[str, str], Call] = {}  # the caller's dialog: (Call-ID, our tag)
        self._by_server_key: dict[TransactionKey, Call] = {}  # the caller's INVITE transaction
        self._by_conversation: dict[str, Call] = {}
        self._agent_legs: dict[str, tuple[Call, SipPhoneEndpoint]] = {}  # dialogs we placed, by Call-ID

    # -- the caller's side ------------------------------------------------------------------------

    def add(self, call: Call) -> None:
        """A new inbound call: found by its id and, until answered, by its INVITE transaction."""
        self.calls[call.id] = call
        if call.server_key is not None:
            self._by_server_key[call.server_key] = call

    def bind_dialog(self, call: Call) -> None:
        """The caller's dialog is up (we sent 200 OK): its in-dialog requests reach ``call``."""
        assert call.caller.dialog is not None
        self._by_dialog[(call.caller.dialog.call_id, call.caller.dialog.local_tag)] = call

    def bind_conversation(self, call: Call) -> None:
        """The call has its conversation: hub events about it reach ``call``."""
        assert call.conversation_id is not None
        self._by_conversation[call.conversation_id] = call

    def adopt(self, call: Call) -> None:
        """A call placed elsewhere (a callback through the trunk), indexed like an inbound one."""
        self.bind_dialog(call)
        self.calls[call.id] = call
        if call.conversation_id is not None:
            self.bind_conversation(call)

    def remove(self, call: Call) -> None:
        self.calls.pop(call.id, None)
        if call.server_key is not None:
            self._by_server_key.pop(call.server_key, None)
        if call.caller.dialog is not None:
            self._by_dialog.pop((call.caller.dialog.call_id, call.caller.dialog.local_tag), None)
        if call.conversation_id is not None:
            self._by_conversation.pop(call.conversation_id, None)

    def by_dialog(self, call_id: str, local_tag: str) -> Call | None:
        return self._by_dialog.get((call_id, local_tag))

    def by_server_key(self, key: TransactionKey) -> Call | None:
        return self._by_server_key.get(key)

    def by_conversation(self, conversation_id: str) -> Call | None:
        return self._by_conversation.get(conversation_id)

    # -- the agent's side -------------------------------------------------------------------------

    def track_agent_leg(self, call: Call, ep: SipPhoneEndpoint) -> None:
        """An agent-side dialog we placed (desk phone, consulted party, trunk): its in-dialog
        requests (BYE, re-INVITE, REFER) and responses are routed to ``call``."""
        self._agent_legs[ep.call_id] = (call, ep)

    def forget_agent_leg(self, call_id: str) -> None:
        self._agent_legs.pop(call_id, None)

    def agent_leg(self, call_id: str) -> tuple[Call, SipPhoneEndpoint] | None:
        return self._agent_legs.get(call_id)
