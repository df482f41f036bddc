"""Kannel adapter: sends through smsbox's ``sendsms`` HTTP interface.

- GSM-7 text goes as ``coding=0``; anything else as ``coding=2`` (UCS-2), both with
  ``charset=UTF-8`` so Kannel converts from the UTF-8 we send.
- Long messages are split and concatenated (UDH) by Kannel; the ``sendsms-user`` needs
  ``concatenation = true`` and ``max-messages`` ≥ the channel's ``sms_max_segments``.
- Every message asks for delivery reports (``dlr-mask`` 31: delivered, failed, buffered, SMSC
  accepted, SMSC rejected) at ``dlr-url`` pointing back to the hub with our message id and the
  shared secret; Kannel replaces ``%d`` with the report type.

Inbound messages and reports arrive at the hub's HTTP endpoints (``adapter.py``), configured in
Kannel's ``sms-service`` (``get-url``/``post-url``); see ``channels/sms/README.md``."""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlencode

import httpx

from channels.sms.gateway import (
    GatewayRejected,
    GatewayUnavailable,
    OutboundSms,
    SendResult,
    SmsGateway,
)

DLR_MASK = 1 + 2 + 4 + 8 + 16


def dlr_status(kind: int) -> str | None:
    """Kannel DLR type → our status (``None``: informational, e.g. buffered on the SMSC)."""
    if kind & 1:
        return "delivered"
    if kind & 2 or kind & 16:
        return "failed"
    if kind & 8:
        return "sent"
    return None


class KannelGateway(SmsGateway):
    name = "kannel"

    def __init__(self, sendsms_url: str, username: str, password: str, dlr_base_url: str,
                 token: str, smsc: str = "", timeout_s: float = 10.0,
                 max_segments: int = 10) -> None:
        self.sendsms_url = sendsms_url
        self.username = username
        self.password = password
        self.dlr_base_url = dlr_base_url.rstrip("/")
        self.token = token
        self.smsc = smsc
        self.timeout_s = timeout_s
        self.max_segments = max_segments
        self._http: httpx.AsyncClient | None = None
        self.last_error: str | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout_s,
                                           limits=httpx.Limits(max_connections=32))
        return self._http

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def dlr_url(self, sms_id: str) -> str:
        # %d is left for Kannel to fill in; everything else is ours.
        return (f"{self.dlr_base_url}/api/sms/kannel/dlr?token={quote(self.token, safe='')}"
                f"&id={quote(sms_id, safe='')}&type=%d")

    def params(self, sms: OutboundSms) -> dict[str, str]:
        p = {"username": self.username, "password": self.password, "from": sms.sender,
             "to": sms.to, "text": sms.text, "charset": "UTF-8",
             "coding": "0" if sms.encoding == "gsm7" else "2"}
        if self.smsc:
            p["smsc"] = self.smsc
        if sms.want_report:
            p["dlr-mask"] = str(DLR_MASK)
            p["dlr-url"] = self.dlr_url(sms.id)
        return p

    async def send(self, sms: OutboundSms) -> SendResult:
        try:
            async with asyncio.timeout(self.timeout_s * 1.5):
                # %20 for spaces, never '+': smsbox keeps a '+' literally in UCS-2 text.
                query = urlencode(self.params(sms), quote_via=quote)
                r = await self._client().get(f"{self.sendsms_url}?{query}")
        except (httpx.HTTPError, TimeoutError, OSError) as err:
            self.last_error = f"{type(err).__name__}: {err}"
            raise GatewayUnavailable(f"Kannel sendsms is unreachable: {self.last_error}") from err
        text = r.text.strip()[:300]
        # smsbox answers 202 "0: Accepted for delivery" (or "3: Queued for later delivery");
        # 4xx are permanent refusals (authorisation, bad number or text); 5xx/503 temporary.
        if r.status_code in (200, 202):
            self.last_error = None
            return SendResult(detail=text)
        self.last_error = f"HTTP {r.status_code}: {text}"
        if r.status_code >= 500 or r.status_code == 429:
            raise GatewayUnavailable(f"Kannel refused for now ({self.last_error})")
        raise GatewayRejected(f"Kannel refused the message ({self.last_error})")

    def health(self) -> dict[str, object]:
        return {"gateway": self.name, "url": self.sendsms_url, "last_error": self.last_error}
