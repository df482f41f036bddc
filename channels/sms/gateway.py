"""The ``SmsGateway`` port: what the channel needs from an SMS gateway, whatever it is.

An adapter sends one message (``send``) and reports what comes back (inbound messages and
delivery reports) to the ``GatewaySink`` the channel hands to ``start``. Kannel delivers inbound
messages and reports over HTTP to endpoints the channel owns, so its adapter only sends; an SMPP
session carries everything on one connection."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from hub.errors import HubError

# Delivery states an outbound message moves through; a report never moves it backwards
# (Kannel may report "delivered" before "accepted by the SMSC").
STATUS_RANK = {"pending": 0, "queued": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3,
               "skipped": 3, "cancelled": 3}


class SmsError(HubError):
    """Root of the SMS channel's errors."""

    code, status, title = "sms_error", 502, "SMS gateway error"


class GatewayUnavailable(SmsError):
    """The gateway could not be reached or refused for now: try again later."""

    code = "sms_gateway_unavailable"


class GatewayRejected(SmsError):
    """The gateway refused this message for good (bad number, bad credentials, too long)."""

    code = "sms_gateway_rejected"


@dataclass(frozen=True)
class OutboundSms:
    id: str              # our sms_messages id: it comes back in delivery reports
    to: str              # E.164
    sender: str          # our number
    text: str
    encoding: str        # gsm7 | ucs2
    want_report: bool = True


@dataclass(frozen=True)
class SendResult:
    gateway_refs: tuple[str, ...] = ()   # the SMSC's ids (SMPP message_id per part)
    detail: str = ""


@dataclass(frozen=True)
class InboundSms:
    sender: str
    receiver: str
    text: str
    gateway_id: str                      # unique per message at the gateway (dedupe)
    smsc: str = ""
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryReport:
    sms_id: str | None                   # ours, when the gateway echoes it (Kannel dlr-url)
    gateway_ref: str | None              # else the SMSC's id (SMPP receipts)
    status: str                          # sent | delivered | failed
    detail: str = ""


class GatewaySink(abc.ABC):
    @abc.abstractmethod
    async def inbound(self, sms: InboundSms) -> None: ...

    @abc.abstractmethod
    async def report(self, dlr: DeliveryReport) -> None: ...


class SmsGateway(abc.ABC):
    name: str = "gateway"

    async def start(self, sink: GatewaySink) -> None:  # noqa: B027 - optional
        """Begin receiving (SMPP binds here); Kannel calls the hub's HTTP endpoints instead."""

    async def stop(self) -> None:  # noqa: B027 - optional
        pass

    @abc.abstractmethod
    async def send(self, sms: OutboundSms) -> SendResult:
        """Hand one message (any length: the gateway concatenates) to the SMSC.

        Raises ``GatewayUnavailable`` (retry later) or ``GatewayRejected`` (permanent)."""

    def health(self) -> dict[str, object]:
        return {"gateway": self.name}


GatewayFactory = Callable[[], Awaitable[SmsGateway]]
