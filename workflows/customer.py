"""Telling the customer (WO-1 "customer informed automatically"): a registry of notification
actions, one per channel. Each action gets the work order and the open transaction and either
sends (records an outbound message that its channel delivers) or says why it skipped.

Built in: ``conversation`` — an outbound message on the customer's conversation through the
conversation service, so the chat widget shows it (and, for an email conversation, the email
channel mails it as a reply); ``email`` — when the contact has an email address and the email
channel is running (the ``email`` port), the message goes as a reply in the contact's newest
email conversation. SMS and an outbound TTS call register theirs with
``services.ports.workflows.customer.register(name, action)`` once those channels exist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hub.db.uow import Tx
from hub.errors import NotFound

if TYPE_CHECKING:
    from hub.app import Services

Action = Callable[[Tx, Any, str], Awaitable[dict[str, Any]]]
SENDER_NAME = "Repair service"


def notice_text(wo: Any) -> str:
    text = f"Your repair request #{wo.number} ({wo.title}) has been completed."
    if wo.result:
        text += f" Result: {wo.result}"
    return text


class CustomerNotifier:
    def __init__(self, services: Services) -> None:
        self.s = services
        self._actions: dict[str, Action] = {}
        self.register("conversation", self._conversation)
        self.register("email", self._email)

    def register(self, name: str, action: Action) -> None:
        self._actions[name] = action

    @property
    def channels(self) -> list[str]:
        return list(self._actions)

    async def notify(self, tx: Tx, wo: Any) -> list[dict[str, Any]]:
        text = notice_text(wo)
        results = []
        for name, action in self._actions.items():
            try:
                res = await action(tx, wo, text)
            except Exception as err:  # noqa: BLE001 - one channel failing must not stop the others
                res = {"status": "failed", "detail": f"{type(err).__name__}: {err}"[:300]}
            results.append({"channel": name, **res})
        return results

    async def _insert(self, tx: Tx, cid: str, text: str) -> dict[str, Any]:
        conv = await self.s.conversations.row(cid, tx)  # the callers found it in this transaction
        msg = await self.s.conversations.insert_message(
            tx, cid, kind="message", sender="agent", body=text, sender_name=SENDER_NAME,
            queue_id=conv.queue_id, assignee_id=conv.assignee_id)
        return {"status": "sent", "conversation_id": cid, "message_id": msg["id"], "text": text}

    async def _conversation(self, tx: Tx, wo: Any, text: str) -> dict[str, Any]:
        if not wo.conversation_id:
            return {"status": "skipped", "detail": "no conversation with the customer"}
        conv = (await self.s.conversations.rows([wo.conversation_id], tx)).get(wo.conversation_id)
        if conv is None:
            return {"status": "skipped", "detail": "the conversation was deleted"}
        res = await self._insert(tx, wo.conversation_id, text)
        return {**res, "via": conv.channel}

    async def _email(self, tx: Tx, wo: Any, text: str) -> dict[str, Any]:
        if self.s.ports.email is None:
            return {"status": "skipped", "detail": "the email channel is not running"}
        if not wo.contact_id:
            return {"status": "skipped", "detail": "no contact"}
        try:
            contact = await self.s.contacts.get(wo.contact_id, tx)
        except NotFound:
            contact = None
        if contact is None or not contact.get("email"):
            return {"status": "skipped", "detail": "the contact has no email address"}
        if wo.conversation_id:
            same = (await self.s.conversations.rows([wo.conversation_id], tx)).get(wo.conversation_id)
            if same is not None and same.channel == "email":
                return {"status": "skipped", "detail": "already told in the email conversation"}
        cid = await self.s.conversations.newest_of_contact(wo.contact_id, "email", tx)
        if cid is None:
            return {"status": "skipped", "detail": "no email thread with this contact yet"}
        res = await self._insert(tx, cid, text)
        return {**res, "to": contact["email"]}
