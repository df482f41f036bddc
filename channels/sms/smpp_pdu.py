"""SMPP 3.4 PDUs as values: ``Pdu.parse(data)`` and ``bytes(pdu)``, typed bodies for the
operations an ESME needs (bind_transceiver, submit_sm, deliver_sm, enquire_link, unbind,
generic_nack), the GSM 03.38 default alphabet, UDH concatenation and delivery receipts."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Cmd(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


class Status(IntEnum):
    OK = 0x00000000
    INVMSGLEN = 0x00000001
    INVCMDID = 0x00000003
    INVBNDSTS = 0x00000004
    SYSERR = 0x00000008
    INVDSTADR = 0x0000000B
    BINDFAIL = 0x0000000D
    INVPASWD = 0x0000000E
    INVSYSID = 0x0000000F
    MSGQFUL = 0x00000014
    THROTTLED = 0x00000058


TEMPORARY = {Status.SYSERR, Status.MSGQFUL, Status.THROTTLED}
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
TLV_MESSAGE_PAYLOAD = 0x0424
ESM_UDHI = 0x40
ESM_RECEIPT = 0x04
HEADER = struct.Struct(">IIII")
MAX_PDU = 64 * 1024

GSM7_TABLE = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
            "]": 0x3E, "|": 0x40, "€": 0x65}
_GSM_INDEX = {ch: i for i, ch in enumerate(GSM7_TABLE) if ch != "\x1b"}
_GSM_EXT_REV = {v: k for k, v in GSM7_EXT.items()}
assert len(GSM7_TABLE) == 128


def gsm7_encode(text: str) -> bytes:
    """GSM 03.38 default alphabet, one septet per octet (unpacked, as SMPP carries it)."""
    out = bytearray()
    for ch in text:
        if ch in _GSM_INDEX:
            out.append(_GSM_INDEX[ch])
        elif ch in GSM7_EXT:
            out += bytes((0x1B, GSM7_EXT[ch]))
        else:
            raise ValueError(f"{ch!r} is not in the GSM 7-bit alphabet")
    return bytes(out)


def gsm7_decode(data: bytes) -> str:
    out, escape = [], False
    for b in data:
        if escape:
            out.append(_GSM_EXT_REV.get(b, " "))
            escape = False
        elif b == 0x1B:
            escape = True
        else:
            out.append(GSM7_TABLE[b & 0x7F])
    return "".join(out)


def decode_text(data: bytes, data_coding: int) -> str:
    if data_coding == 0x08:
        return data.decode("utf-16-be", "replace")
    if data_coding in (0x03, 0x04):  # Latin-1 / 8-bit binary: best effort text
        return data.decode("latin-1")
    if data_coding == 0x00:
        return gsm7_decode(data)
    return data.decode("utf-8", "replace")


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise ValueError("SMPP PDU body is truncated")
        self.pos += 1
        return self.data[self.pos - 1]

    def cstr(self, limit: int = 256) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0 or end - self.pos > limit:
            raise ValueError("SMPP C-octet string is not terminated")
        value = self.data[self.pos:end].decode("latin-1")
        self.pos = end + 1
        return value

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("SMPP PDU body is truncated")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def tlvs(self) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        while self.pos < len(self.data):
            if self.pos + 4 > len(self.data):
                raise ValueError("SMPP TLV header is truncated")
            tag, length = struct.unpack_from(">HH", self.data, self.pos)
            self.pos += 4
            out[tag] = self.raw(length)
        return out


def cstr(value: str) -> bytes:
    return value.encode("latin-1") + b"\x00"


@dataclass(frozen=True)
class Pdu:
    command: int
    status: int
    seq: int
    body: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> Pdu:
        if len(data) < 16:
            raise ValueError("SMPP PDU is shorter than its 16-octet header")
        length, command, status, seq = HEADER.unpack_from(data)
        if length != len(data):
            raise ValueError(f"SMPP command_length {length} does not match the {len(data)} octets")
        return cls(command, status, seq, data[16:])

    def __bytes__(self) -> bytes:
        return HEADER.pack(16 + len(self.body), self.command, self.status, self.seq) + self.body

    def __repr__(self) -> str:
        try:
            name = Cmd(self.command).name
        except ValueError:
            name = hex(self.command)
        return f"<Pdu {name} status={self.status:#x} seq={self.seq} body={len(self.body)}B>"


def bind_transceiver(system_id: str, password: str, system_type: str = "") -> bytes:
    return (cstr(system_id) + cstr(password) + cstr(system_type)
            + bytes((0x34, 0, 0)) + cstr(""))


@dataclass(frozen=True)
class ShortMessage:
    """The body of submit_sm / deliver_sm (same layout)."""

    source: str
    destination: str
    short_message: bytes
    data_coding: int = 0
    esm_class: int = 0
    registered_delivery: int = 0
    source_ton: int = 1
    source_npi: int = 1
    dest_ton: int = 1
    dest_npi: int = 1
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @staticmethod
    def _addr(number: str) -> tuple[int, int, str]:
        if number.startswith("+"):
            return 1, 1, number[1:]  # international, E.164
        if number.isdigit():
            return 0, 1, number  # unknown TON (short codes)
        return 5, 0, number  # alphanumeric

    @classmethod
    def make(cls, source: str, destination: str, short_message: bytes, **kw: Any) -> ShortMessage:
        s_ton, s_npi, s = cls._addr(source)
        d_ton, d_npi, d = cls._addr(destination)
        return cls(s, d, short_message, source_ton=s_ton, source_npi=s_npi, dest_ton=d_ton,
                   dest_npi=d_npi, **kw)

    def __bytes__(self) -> bytes:
        if len(self.short_message) > 254:
            raise ValueError("short_message is longer than 254 octets")
        out = (cstr("") + bytes((self.source_ton, self.source_npi)) + cstr(self.source)
               + bytes((self.dest_ton, self.dest_npi)) + cstr(self.destination)
               + bytes((self.esm_class, 0, 0)) + cstr("") + cstr("")
               + bytes((self.registered_delivery, 0, self.data_coding, 0, len(self.short_message)))
               + self.short_message)
        for tag, value in self.tlvs.items():
            out += struct.pack(">HH", tag, len(value)) + value
        return out

    @classmethod
    def parse(cls, body: bytes) -> ShortMessage:
        r = Reader(body)
        r.cstr(6)  # service_type
        s_ton, s_npi, source = r.u8(), r.u8(), r.cstr(21)
        d_ton, d_npi, dest = r.u8(), r.u8(), r.cstr(21)
        esm_class = r.u8()
        r.u8()  # protocol_id
        r.u8()  # priority_flag
        r.cstr(17)  # schedule_delivery_time
        r.cstr(17)  # validity_period
        registered = r.u8()
        r.u8()  # replace_if_present_flag
        data_coding = r.u8()
        r.u8()  # sm_default_msg_id
        sm = r.raw(r.u8())
        tlvs = r.tlvs()
        if not sm and TLV_MESSAGE_PAYLOAD in tlvs:
            sm = tlvs[TLV_MESSAGE_PAYLOAD]
        return cls(source, dest, sm, data_coding, esm_class, registered, s_ton, s_npi, d_ton,
                   d_npi, tlvs)

    @property
    def international_source(self) -> str:
        return ("+" + self.source) if self.source_ton == 1 and not self.source.startswith("+") else self.source

    def split_udh(self) -> tuple[tuple[int, int, int] | None, bytes]:
        """(reference, total, sequence) of a concatenated part, and the text octets."""
        if not self.esm_class & ESM_UDHI or not self.short_message:
            return None, self.short_message
        udhl = self.short_message[0]
        udh, data = self.short_message[1:1 + udhl], self.short_message[1 + udhl:]
        i = 0
        while i + 1 < len(udh):
            iei, iel = udh[i], udh[i + 1]
            val = udh[i + 2:i + 2 + iel]
            if iei == 0x00 and iel == 3:
                return (val[0], val[1], val[2]), data
            if iei == 0x08 and iel == 4:
                return ((val[0] << 8) | val[1], val[2], val[3]), data
            i += 2 + iel
        return None, data


def concat_udh(ref: int, total: int, seq: int) -> bytes:
    return bytes((0x05, 0x00, 0x03, ref & 0xFF, total, seq))


_RECEIPT = re.compile(r"id:(?P<id>\S+).*?stat:(?P<stat>\w+)(?:.*?err:(?P<err>\w+))?", re.I | re.S)
_FINAL = {"DELIVRD": "delivered", "EXPIRED": "failed", "DELETED": "failed", "UNDELIV": "failed",
          "REJECTD": "failed", "UNKNOWN": None, "ACCEPTD": "sent", "ENROUTE": None}
_STATE_TLV = {2: "delivered", 3: "failed", 4: "failed", 5: "failed", 6: "sent", 8: "failed"}


def parse_receipt(sm: ShortMessage) -> tuple[str, str | None, str]:
    """(SMSC message id, our status or None, detail) of a delivery receipt deliver_sm."""
    text = sm.short_message.decode("latin-1")
    m = _RECEIPT.search(text)
    ref = sm.tlvs.get(TLV_RECEIPTED_MESSAGE_ID, b"").rstrip(b"\x00").decode("latin-1")
    status: str | None = None
    if TLV_MESSAGE_STATE in sm.tlvs and sm.tlvs[TLV_MESSAGE_STATE]:
        status = _STATE_TLV.get(sm.tlvs[TLV_MESSAGE_STATE][0])
    if m:
        ref = ref or m.group("id")
        if status is None:
            status = _FINAL.get(m.group("stat").upper())
    if not ref:
        raise ValueError("the delivery receipt carries no message id")
    return ref, status, text[:200]
