"""The direct SMPP adapter against a small SMSC written in the test (``smsc.py``: no SMPP server
can run on this machine), then the whole hub with ``sms_gateway = smpp``."""

from __future__ import annotations

import asyncio

import pytest

from channels.sms.gateway import (
    DeliveryReport,
    GatewayRejected,
    GatewaySink,
    GatewayUnavailable,
    InboundSms,
    OutboundSms,
)
from channels.sms.smpp import SmppGateway
from tests.api.helpers import agent_desk
from tests.channels.sms.conftest import poll
from tests.channels.sms.smsc import Smsc
from tests.support.hub import running_hub

LONG_CHINESE = "请立即关闭燃气总阀门并打开门窗通风，不要开关任何电器，维修人员将在三十分钟内上门检查处理。" * 3


class Sink(GatewaySink):
    """Records what the gateway hands to the channel; ``fail`` makes storing fail."""

    def __init__(self) -> None:
        self.messages: list[InboundSms] = []
        self.reports: list[DeliveryReport] = []
        self.fail = False

    async def inbound(self, sms: InboundSms) -> None:
        if self.fail:
            raise RuntimeError("database is down")
        self.messages.append(sms)

    async def report(self, dlr: DeliveryReport) -> None:
        self.reports.append(dlr)


@pytest.fixture
async def smsc():  # type: ignore[no-untyped-def]
    s = await Smsc().start()
    yield s
    await s.stop()


async def bound_gateway(smsc: Smsc, sink: Sink, password: str = "secret") -> SmppGateway:
    gw = SmppGateway("127.0.0.1", smsc.port, "hub", password, timeout_s=3, enquire_link_s=0.5,
                     reconnect_max_s=0.5)
    await gw.start(sink)
    return gw


async def test_gsm_text_is_submitted_and_its_receipt_reported_as_delivered(smsc):
    sink = Sink()
    gw = await bound_gateway(smsc, sink)
    try:
        result = await gw.send(OutboundSms("sms1", "+8613900139000", "95007", "Price: 5€ [ok]", "gsm7"))
        [sub] = smsc.submitted
        assert result.gateway_refs == (sub.message_id,)
        assert (sub.destination, sub.dest_ton, sub.source, sub.data_coding) == ("8613900139000", 1, "95007", 0)
        # GSM 03.38 unpacked: € and brackets are escape sequences
        assert sub.short_message == b"Price: 5\x1b\x65 \x1b\x3cok\x1b\x3e"
        await poll(lambda: _value(sink.reports), bool, 5)
        assert sink.reports[0] == DeliveryReport("sms1", sub.message_id, "delivered", sink.reports[0].detail)
        await asyncio.sleep(1.2)  # enquire_link keeps the session up
        assert smsc.binds == 1 and gw.health()["bound"] is True
    finally:
        await gw.stop()


async def _value(v):  # type: ignore[no-untyped-def]
    return v


async def test_long_chinese_text_goes_as_concatenated_ucs2_parts(smsc):
    gw = await bound_gateway(smsc, Sink())
    try:
        result = await gw.send(OutboundSms("sms2", "+8613900139000", "95007", LONG_CHINESE, "ucs2"))
        assert len(result.gateway_refs) == 3
        parts = smsc.submitted
        assert [p.udh[1:] for p in parts] == [(3, 1), (3, 2), (3, 3)]  # type: ignore[index]
        assert len({p.udh[0] for p in parts}) == 1  # type: ignore[index]
        assert all(p.data_coding == 8 and len(p.short_message) <= 140 for p in parts)
        assert b"".join(p.payload for p in parts).decode("utf-16-be") == LONG_CHINESE
    finally:
        await gw.stop()


async def test_inbound_messages_are_acknowledged_only_after_they_are_stored(smsc):
    sink = Sink()
    gw = await bound_gateway(smsc, sink)
    try:
        await poll(lambda: _value(smsc.binds), bool, 5)
        await smsc.mobile_sends("8613900139000", "95007", "Hello there")
        await smsc.mobile_sends("8613900139000", "95007", LONG_CHINESE, ucs2=True, parts=3)
        await smsc.wait(lambda: len(smsc.deliver_resps) == 4)
        assert smsc.deliver_resps == [0, 0, 0, 0]
        assert [(m.sender, m.text) for m in sink.messages] == [
            ("+8613900139000", "Hello there"), ("+8613900139000", LONG_CHINESE)]
        sink.fail = True
        await smsc.mobile_sends("8613900139000", "95007", "lost?")
        await smsc.wait(lambda: len(smsc.deliver_resps) == 5)
        assert smsc.deliver_resps[-1] == 0x08  # ESME_RSYSERR: the SMSC will deliver it again
    finally:
        await gw.stop()


async def test_refusals_and_outages_are_reported_as_permanent_or_temporary(smsc):
    gw = await bound_gateway(smsc, Sink())
    try:
        await gw.send(OutboundSms("a", "+8613900139000", "95007", "warm-up", "gsm7"))
        smsc.refuse_status = 0x0B  # invalid destination
        with pytest.raises(GatewayRejected, match="0xb"):
            await gw.send(OutboundSms("b", "+8613900139000", "95007", "x", "gsm7"))
        smsc.refuse_status = 0x58  # throttled
        with pytest.raises(GatewayUnavailable):
            await gw.send(OutboundSms("c", "+8613900139000", "95007", "x", "gsm7"))
    finally:
        await gw.stop()
    wrong = await bound_gateway(smsc, Sink(), password="wrong")
    try:
        with pytest.raises(GatewayUnavailable, match="bind_transceiver refused"):
            await wrong.send(OutboundSms("d", "+8613900139000", "95007", "x", "gsm7"))
    finally:
        await wrong.stop()


async def test_the_session_reconnects_after_the_smsc_restarts(smsc):
    gw = await bound_gateway(smsc, Sink())
    try:
        await gw.send(OutboundSms("a", "+8613900139000", "95007", "one", "gsm7"))
        port = smsc.port
        await smsc.stop()
        with pytest.raises(GatewayUnavailable):
            await gw.send(OutboundSms("b", "+8613900139000", "95007", "two", "gsm7"))
        await smsc.start(port)
        await poll(lambda: _value(gw.health()["bound"]), bool, 10)
        await gw.send(OutboundSms("c", "+8613900139000", "95007", "three", "gsm7"))
        assert [s.payload for s in smsc.submitted] == [b"one", b"three"]
    finally:
        await gw.stop()


async def test_the_hub_over_smpp_routes_inbound_and_delivers_the_agents_reply(tmp_path, database_url, smsc):
    async with running_hub(tmp_path / "data", database_url, sms_gateway="smpp", sms_smpp_port=smsc.port,
                           sms_smpp_system_id="hub", sms_smpp_password="secret",
                           sms_number="95007") as hub:
        agent, desk = await agent_desk(hub, "agent1")
        await poll(lambda: _value(smsc.binds), bool, 10)
        await smsc.mobile_sends("8613900139000", "95007", LONG_CHINESE, ucs2=True, parts=3)
        offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "sms", timeout=10)
        cid = offer["conversation"]["id"]
        detail = await agent.ok("POST", f"/api/conversations/{cid}/accept")
        assert [m["body"] for m in detail["messages"] if m["sender"] == "customer"] == [LONG_CHINESE]
        await agent.ok("POST", f"/api/conversations/{cid}/messages", {"body": "Technician on the way."},
                       status=201)
        await smsc.wait(lambda: len(smsc.submitted) == 1)
        assert smsc.submitted[0].payload == b"Technician on the way."
        await desk.wait("sms_status", lambda d: d["status"] == "delivered", timeout=10)
        await desk.close()
