"""Direct SMPP 3.4 adapter: one transceiver session to the provider's SMSC.

Our own minimal async ESME (``smpp_pdu.py`` for the wire format). ``aiosmpplib`` was checked and
not used: it owns an in-memory send queue (a second queue beside our durable one, so a crash could
lose what it held), reports submit results only through hook callbacks, and sends long messages
as ``message_payload`` rather than UDH-concatenated parts, which many SMSCs refuse.

- Sending: the text is cut into parts (``segments.split_parts``: 153/67 per part), each part a
  ``submit_sm`` with a concatenation UDH (``esm_class`` 0x40), GSM-7 as data_coding 0 (unpacked
  default alphabet) or UCS-2 as 8, ``registered_delivery`` 1. ``send`` returns once every part has
  its ``submit_sm_resp``; the SMSC's ids are the gateway references.
- Receiving: ``deliver_sm`` is either a delivery receipt (``esm_class`` 0x04: the
  ``receipted_message_id``/``message_state`` TLVs or the ``id:… stat:…`` text) or an inbound
  message (concatenated parts reassembled by their UDH). ``deliver_sm_resp`` is answered only
  after the hub stored it; a storage failure answers ESME_RSYSERR so the SMSC delivers it again.
- The session binds on start, keeps itself alive with ``enquire_link`` and reconnects with
  backoff; while unbound, ``send`` raises ``GatewayUnavailable`` (the outbound queue retries)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass, field

import channels.sms.segments as segments
from channels.sms.gateway import (
    DeliveryReport,
    GatewayRejected,
    GatewaySink,
    GatewayUnavailable,
    InboundSms,
    OutboundSms,
    SendResult,
    SmsGateway,
)
from channels.sms.smpp_pdu import (
    ESM_RECEIPT,
    ESM_UDHI,
    HEADER,
    MAX_PDU,
    TEMPORARY,
    Cmd,
    Pdu,
    ShortMessage,
    Status,
    bind_transceiver,
    concat_udh,
    decode_text,
    gsm7_encode,
    parse_receipt,
)

log = logging.getLogger(__name__)


@dataclass
class _Parts:
    total: int
    first_at: float
    parts: dict[int, str] = field(default_factory=dict)


class SmppGateway(SmsGateway):
    name = "smpp"

    def __init__(self, host: str, port: int, system_id: str, password: str, system_type: str = "",
                 *, timeout_s: float = 10.0, enquire_link_s: float = 30.0,
                 reconnect_max_s: float = 30.0) -> None:
        self.host, self.port = host, port
        self.system_id, self.password, self.system_type = system_id, password, system_type
        self.timeout_s = timeout_s
        self.enquire_link_s = enquire_link_s
        self.reconnect_max_s = reconnect_max_s
        self.sink: GatewaySink | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._bound = asyncio.Event()
        self._seq = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Pdu]] = {}
        self._seq_sms: dict[int, str] = {}
        self._ref_sms: dict[str, str] = {}   # SMSC id → our id, for receipts that beat the write
        self._concat: dict[tuple[str, int], _Parts] = {}
        self._refs = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._write_lock = asyncio.Lock()
        self.last_error: str | None = None

    # --- life ---------------------------------------------------------------------------------
    async def start(self, sink: GatewaySink) -> None:
        self.sink = sink
        self._task = asyncio.create_task(self._session_loop(), name="smpp-session")

    async def stop(self) -> None:
        if self._writer is not None and self._bound.is_set():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._request(Cmd.UNBIND, b"")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._close()

    def _close(self) -> None:
        self._bound.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(GatewayUnavailable("the SMPP session closed"))
        self._waiting.clear()

    def health(self) -> dict[str, object]:
        return {"gateway": self.name, "smsc": f"{self.host}:{self.port}",
                "bound": self._bound.is_set(), "last_error": self.last_error}

    async def _session_loop(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._session()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - any failure: reconnect with backoff
                self.last_error = f"{type(err).__name__}: {err}"
                log.warning("smpp: session to %s:%s ended: %s", self.host, self.port, self.last_error)
            self._close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_s)

    async def _session(self) -> None:
        async with asyncio.timeout(self.timeout_s):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        self._writer = writer
        read_task = asyncio.create_task(self._read_loop(reader), name="smpp-read")
        try:
            async with asyncio.timeout(self.timeout_s):
                resp = await self._request(Cmd.BIND_TRANSCEIVER, bind_transceiver(
                    self.system_id, self.password, self.system_type), need_bound=False)
            if resp.status != Status.OK:
                raise ConnectionError(f"bind_transceiver refused with status {resp.status:#x}")
            self._bound.set()
            self.last_error = None
            log.info("smpp: bound to %s:%s as %s", self.host, self.port, self.system_id)
            while not read_task.done():
                done, _ = await asyncio.wait({read_task}, timeout=self.enquire_link_s)
                if done:
                    break
                async with asyncio.timeout(self.timeout_s):
                    await self._request(Cmd.ENQUIRE_LINK, b"")
            read_task.result()
        finally:
            read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await read_task

    # --- wire ---------------------------------------------------------------------------------
    async def _write(self, pdu: Pdu) -> None:
        if self._writer is None:
            raise GatewayUnavailable("no SMPP connection")
        async with self._write_lock:
            self._writer.write(bytes(pdu))
            await self._writer.drain()

    async def _request(self, command: int, body: bytes, need_bound: bool = True,
                       sms_id: str | None = None) -> Pdu:
        if need_bound and not self._bound.is_set():
            raise GatewayUnavailable(f"not bound to the SMSC ({self.last_error or 'connecting'})")
        seq = next(self._seq) & 0x7FFFFFFF
        fut: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._waiting[seq] = fut
        if sms_id:
            self._seq_sms[seq] = sms_id
        try:
            await self._write(Pdu(command, 0, seq, body))
            async with asyncio.timeout(self.timeout_s):
                return await fut
        except TimeoutError as err:
            raise GatewayUnavailable(f"the SMSC did not answer in {self.timeout_s} s") from err
        finally:
            self._waiting.pop(seq, None)
            self._seq_sms.pop(seq, None)

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            head = await reader.readexactly(4)
            length = int.from_bytes(head, "big")
            if not HEADER.size <= length <= MAX_PDU:
                raise ConnectionError(f"SMPP command_length {length} is out of range")
            pdu = Pdu.parse(head + await reader.readexactly(length - 4))
            if pdu.command & 0x80000000:
                if pdu.command == Cmd.SUBMIT_SM_RESP and pdu.status == Status.OK:
                    sms_id = self._seq_sms.get(pdu.seq)
                    ref = pdu.body.split(b"\x00", 1)[0].decode("latin-1")
                    if sms_id and ref:
                        self._remember(ref, sms_id)
                fut = self._waiting.get(pdu.seq)
                if fut is not None and not fut.done():
                    fut.set_result(pdu)
                continue
            if pdu.command == Cmd.ENQUIRE_LINK:
                await self._write(Pdu(Cmd.ENQUIRE_LINK_RESP, 0, pdu.seq))
            elif pdu.command == Cmd.UNBIND:
                await self._write(Pdu(Cmd.UNBIND_RESP, 0, pdu.seq))
                raise ConnectionError("the SMSC unbound")
            elif pdu.command == Cmd.DELIVER_SM:
                task = asyncio.create_task(self._deliver(pdu), name=f"smpp-deliver-{pdu.seq}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                await self._write(Pdu(Cmd.GENERIC_NACK, Status.INVCMDID, pdu.seq))

    def _remember(self, ref: str, sms_id: str) -> None:
        self._ref_sms[ref] = sms_id
        if len(self._ref_sms) > 20_000:  # recent ones only; older receipts look up the database
            for key in list(itertools.islice(self._ref_sms, 10_000)):
                del self._ref_sms[key]

    async def _deliver(self, pdu: Pdu) -> None:
        status = Status.OK
        try:
            sm = ShortMessage.parse(pdu.body)
            assert self.sink is not None
            if sm.esm_class & ESM_RECEIPT:
                ref, state, detail = parse_receipt(sm)
                if state is not None:
                    await self.sink.report(DeliveryReport(self._ref_sms.get(ref), ref, state, detail))
            else:
                await self._inbound(sm)
        except ValueError as err:
            log.warning("smpp: malformed deliver_sm: %s", err)
            status = Status.INVMSGLEN
        except Exception:  # noqa: BLE001 - not stored: let the SMSC deliver it again
            log.exception("smpp: could not store a deliver_sm")
            status = Status.SYSERR
        with contextlib.suppress(Exception):
            await self._write(Pdu(Cmd.DELIVER_SM_RESP, status, pdu.seq, b"\x00"))

    async def _inbound(self, sm: ShortMessage) -> None:
        assert self.sink is not None
        concat, data = sm.split_udh()
        text = decode_text(data, sm.data_coding)
        sender = sm.international_source
        if concat is None:
            await self.sink.inbound(InboundSms(sender, sm.destination, text,
                                               gateway_id=f"{sender}:{time.time_ns()}"))
            return
        ref, total, seq = concat
        key = (sender, ref)
        now = time.monotonic()
        for k in [k for k, v in self._concat.items() if now - v.first_at > 600]:
            del self._concat[k]  # parts that never completed
        entry = self._concat.setdefault(key, _Parts(total, now))
        entry.parts[seq] = text
        if len(entry.parts) < entry.total:
            return
        del self._concat[key]
        full = "".join(entry.parts[i] for i in sorted(entry.parts))
        try:
            await self.sink.inbound(InboundSms(sender, sm.destination, full,
                                               gateway_id=f"{sender}:{ref}:{time.time_ns()}"))
        except BaseException:
            self._concat[key] = entry  # the SMSC re-delivers the last part; keep the others
            raise

    # --- sending ------------------------------------------------------------------------------
    async def send(self, sms: OutboundSms) -> SendResult:
        if not self._bound.is_set():
            try:
                async with asyncio.timeout(min(self.timeout_s, 2.0)):
                    await self._bound.wait()
            except TimeoutError as err:
                raise GatewayUnavailable(
                    f"not bound to the SMSC {self.host}:{self.port} "
                    f"({self.last_error or 'connecting'})") from err
        parts = segments.split_parts(sms.text, sms.encoding)
        ref = next(self._refs) & 0xFF
        ids: list[str] = []
        for i, part in enumerate(parts, start=1):
            data = gsm7_encode(part) if sms.encoding == "gsm7" else part.encode("utf-16-be")
            esm = 0
            if len(parts) > 1:
                data = concat_udh(ref, len(parts), i) + data
                esm = ESM_UDHI
            body = bytes(ShortMessage.make(
                sms.sender, sms.to, data, data_coding=0x00 if sms.encoding == "gsm7" else 0x08,
                esm_class=esm, registered_delivery=1 if sms.want_report else 0))
            resp = await self._request(Cmd.SUBMIT_SM, body, sms_id=sms.id)
            if resp.status != Status.OK:
                detail = f"submit_sm refused with status {resp.status:#x} (part {i}/{len(parts)})"
                if resp.status in TEMPORARY:
                    raise GatewayUnavailable(detail)
                raise GatewayRejected(detail)
            ids.append(resp.body.split(b"\x00", 1)[0].decode("latin-1"))
        return SendResult(tuple(ids), detail=f"{len(parts)} part(s)")
