"""Telling the customer (WO-1 "customer informed automatically"): a registry of notification
actions, one per channel. Each action gets the work order and the open transaction and either
sends (records an outbound message that its channel delivers) or says why it skipped.

The customer is told ONCE, on the first way of the setting ``workflows_notice_order`` (default
conversation, sms, email) that can reach them: the ways after it are not tried (they once all ran,
and a customer who came by SMS or chat got the notice two or three times, one of them in another
agent's email thread).

Built in: ``conversation`` — an outbound message on the conversation the work order came from,
through the conversation service: the chat widget shows it (while the chat goes on: an ended chat
is skipped), the SMS channel texts it, the email channel mails it as a reply (a call's
conversation carries no written notice: skipped);
``email`` — when the contact has an email address and the email channel is running (the
``email`` port), a reply in the contact's newest email conversation. The SMS channel registers
``sms`` with ``services.ports.workflows.customer.register(name, action)``.

The notice is the text ``workorder.completed`` (``workorder.completed_with_result`` when the order
has a result; ``workflows/texts.py``) in the customer's language: the language of the work order's
conversation, else the contact's preferred one, else the hub's ``default_language``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hub.db.uow import Tx
from hub.errors import NotFound
from workflows.settings import WorkflowsSettings

if TYPE_CHECKING:
    from hub.app import Services

Action = Callable[[Tx, Any, str], Awaitable[dict[str, Any]]]
#: conversations whose channel delivers an agent's written message to the customer
TEXT_CHANNELS = frozenset({"chat", "sms", "email"})


class CustomerNotifier:
    def __init__(self, services: Services) -> None:
        self.s = services
        self._actions: dict[str, Action] = {}
        self._languages: dict[str, str] = {}  # work order id -> its notice's language, while sent
        self.register("conversation", self._conversation)
        self.register("email", self._email)

    def register(self, name: str, action: Action) -> None:
        self._actions[name] = action

    @property
    def channels(self) -> list[str]:
        return list(self._actions)

    async def language(self, tx: Tx, wo: Any) -> str:
        """The language to tell the customer in (see the module doc)."""
        conv = (await self.s.conversations.rows([wo.conversation_id], tx)).get(wo.conversation_id) \
            if wo.conversation_id else None
        contact: dict[str, Any] | None = None
        if wo.contact_id:
            try:
                contact = await self.s.contacts.get(wo.contact_id, tx)
            except NotFound:
                contact = None
        return self.s.texts.language(conv.language if conv is not None else None,
                                     contact.get("language") if contact else None)

    async def notice_text(self, wo: Any, language: str) -> str:
        render = self.s.texts.render
        if wo.result:
            return await render("workorder.completed_with_result", language, number=wo.number,
                                title=wo.title, result=wo.result)
        return await render("workorder.completed", language, number=wo.number, title=wo.title)

    async def notify(self, tx: Tx, wo: Any) -> list[dict[str, Any]]:
        """Tell the customer once: the ways of ``workflows_notice_order`` are tried in turn until
        one sends (the others after it are not tried); what each tried way did is returned."""
        lang = await self.language(tx, wo)
        text = await self.notice_text(wo, lang)
        results = []
        self._languages[wo.id] = lang
        order = self.s.settings.section(WorkflowsSettings).notice_order
        try:
            for name in order:
                action = self._actions.get(name)
                if action is None:
                    results.append({"channel": name, "language": lang, "status": "skipped",
                                    "detail": f"the {name} channel is not running"})
                    continue
                try:
                    res = await action(tx, wo, text)
                except Exception as err:  # noqa: BLE001 - one channel failing: the next one is tried
                    res = {"status": "failed", "detail": f"{type(err).__name__}: {err}"[:300]}
                results.append({"channel": name, "language": lang, **res})
                if res.get("status") == "sent":
                    break
        finally:
            self._languages.pop(wo.id, None)
        return results

    async def _insert(self, tx: Tx, wo: Any, cid: str, text: str) -> dict[str, Any]:
        conv = await self.s.conversations.row(cid, tx)  # the callers found it in this transaction
        sender = await self.s.texts.render("workorder.sender_name", self._languages.get(wo.id))
        msg = await self.s.conversations.insert_message(
            tx, cid, kind="message", sender="agent", body=text, sender_name=sender,
            queue_id=conv.queue_id, assignee_id=conv.assignee_id)
        return {"status": "sent", "conversation_id": cid, "message_id": msg["id"], "text": text}

    async def _conversation(self, tx: Tx, wo: Any, text: str) -> dict[str, Any]:
        if not wo.conversation_id:
            return {"status": "skipped", "detail": "no conversation with the customer"}
        conv = (await self.s.conversations.rows([wo.conversation_id], tx)).get(wo.conversation_id)
        if conv is None:
            return {"status": "skipped", "detail": "the conversation was deleted"}
        if conv.channel not in TEXT_CHANNELS:
            return {"status": "skipped", "detail": f"a {conv.channel} conversation carries no written notice"}
        if conv.channel == "chat" and conv.status in ("closed", "abandoned"):
            # SMS and email reach the customer later too; a chat that ended does not
            return {"status": "skipped", "detail": "the chat has ended: the customer would not see it"}
        res = await self._insert(tx, wo, wo.conversation_id, text)
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
        res = await self._insert(tx, wo, cid, text)
        return {**res, "to": contact["email"]}
