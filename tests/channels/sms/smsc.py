"""A small SMPP 3.4 SMSC for the SMPP adapter's tests.

No SMPP server can run on this machine (Kannel is an ESME, not an SMSC; no SMSC simulator is
packaged), so the tests talk to this one. It is written independently of the adapter's codec
(plain ``struct``), follows SMPP 3.4 §4 for the PDUs it handles (bind_transceiver, submit_sm,
deliver_sm, enquire_link, unbind) and behaves like a provider: it checks the password, answers
each submit_sm with a message id, sends a delivery receipt for what asked for one, and delivers
mobile-originated messages (single or UDH-concatenated) to the bound ESME."""

from __future__ import annotations

import asyncio
import itertools
import struct
from dataclasses import dataclass, field


@dataclass
class Submitted:
    source: str
    source_ton: int
    destination: str
    dest_ton: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    message_id: str

    @property
    def udh(self) -> tuple[int, int, int] | None:
        if not self.esm_class & 0x40:
            return None
        u = self.short_message
        assert u[0] == 5 and u[1] == 0 and u[2] == 3, u[:6]
        return u[3], u[4], u[5]

    @property
    def payload(self) -> bytes:
        return self.short_message[6:] if self.esm_class & 0x40 else self.short_message


def _cstr(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\x00", pos)
    return data[pos:end].decode("latin-1"), end + 1


def _pdu(cmd: int, status: int, seq: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), cmd, status, seq) + body


@dataclass
class Smsc:
    system_id: str = "hub"
    password: str = "secret"
    receipts: bool = True
    refuse_status: int = 0
    port: int = 0
    submitted: list[Submitted] = field(default_factory=list)
    deliver_resps: list[int] = field(default_factory=list)
    binds: int = 0
    _server: asyncio.base_events.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, port: int = 0) -> Smsc:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for w in self._writers:
            w.close()
        self._writers.clear()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        bound = False
        try:
            while True:
                head = await reader.readexactly(16)
                length, cmd, status, seq = struct.unpack(">IIII", head)
                body = await reader.readexactly(length - 16)
                if cmd == 0x00000009:  # bind_transceiver
                    sid, p = _cstr(body, 0)
                    pwd, p = _cstr(body, p)
                    ok = sid == self.system_id and pwd == self.password
                    writer.write(_pdu(0x80000009, 0 if ok else 0x0E, seq, b"smsc\x00"))
                    bound = ok
                    if ok:
                        self.binds += 1
                        self._writers.append(writer)
                elif cmd == 0x00000015:
                    writer.write(_pdu(0x80000015, 0, seq))
                elif cmd == 0x00000006:
                    writer.write(_pdu(0x80000006, 0, seq))
                    await writer.drain()
                    return
                elif cmd == 0x00000004 and bound:
                    await self._submit(writer, body, seq)
                elif cmd == 0x80000005:
                    self.deliver_resps.append(status)
                elif not bound:
                    writer.write(_pdu(cmd | 0x80000000, 0x04, seq))  # ESME_RINVBNDSTS
                self._changed.set()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()

    async def _submit(self, writer: asyncio.StreamWriter, body: bytes, seq: int) -> None:
        _, p = _cstr(body, 0)
        s_ton, _s_npi = body[p], body[p + 1]
        source, p = _cstr(body, p + 2)
        d_ton, _d_npi = body[p], body[p + 1]
        dest, p = _cstr(body, p + 2)
        esm = body[p]
        p += 3
        _, p = _cstr(body, p)
        _, p = _cstr(body, p)
        registered, _, dcs, _, sm_len = body[p:p + 5]
        sm = body[p + 5:p + 5 + sm_len]
        if self.refuse_status:
            writer.write(_pdu(0x80000004, self.refuse_status, seq, b"\x00"))
            return
        mid = f"M{next(self._ids)}"
        self.submitted.append(Submitted(source, s_ton, dest, d_ton, esm, dcs, registered, sm, mid))
        writer.write(_pdu(0x80000004, 0, seq, mid.encode() + b"\x00"))
        if registered & 1 and self.receipts:
            text = (f"id:{mid} sub:001 dlvrd:001 submit date:2611231200 done date:2611231200 "
                    f"stat:DELIVRD err:000 text:").encode()
            writer.write(self._deliver_sm(dest, source, text, esm=0x04, dcs=0, ton=d_ton))

    def _deliver_sm(self, source: str, dest: str, sm: bytes, *, esm: int, dcs: int, ton: int = 1) -> bytes:
        body = (b"\x00" + bytes((ton, 1)) + source.lstrip("+").encode() + b"\x00"
                + bytes((0, 1)) + dest.encode() + b"\x00" + bytes((esm, 0, 0)) + b"\x00\x00"
                + bytes((0, 0, dcs, 0, len(sm))) + sm)
        return _pdu(0x00000005, 0, next(self._seq), body)

    async def mobile_sends(self, source: str, dest: str, text: str, *, ucs2: bool = False,
                           parts: int = 1) -> None:
        """A phone sends ``text`` (UCS-2 or ASCII-as-GSM), split into ``parts`` with a UDH."""
        assert self._writers, "no ESME is bound"
        data = text.encode("utf-16-be") if ucs2 else text.encode("ascii")
        unit = 2 if ucs2 else 1
        chars = len(data) // unit
        size = -(-chars // parts)
        w = self._writers[-1]
        for i in range(parts):
            chunk = data[i * size * unit:(i + 1) * size * unit]
            if parts > 1:
                chunk = bytes((5, 0, 3, 0x42, parts, i + 1)) + chunk
            w.write(self._deliver_sm(source, dest, chunk, esm=0x40 if parts > 1 else 0,
                                     dcs=8 if ucs2 else 0))
        await w.drain()

    async def wait(self, predicate, within_s: float = 10) -> None:  # type: ignore[no-untyped-def]
        async with asyncio.timeout(within_s):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()
