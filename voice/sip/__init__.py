"""Our own SIP stack (stdlib + asyncio only), split by concept.

From the wire inwards (everything is pure except the three asyncio adapters):

- :mod:`voice.sip.errors` – the package's exceptions (root :class:`SipError`, stable ``code``,
  the SIP ``status`` to answer with).
- :mod:`voice.sip.headers` – header values as types: SIP/tel URIs, name-addr, Via, CSeq.
- :mod:`voice.sip.message` – typed requests/responses, datagram parser, stream framer,
  serialiser (byte-exact round trip), ``400`` builder for malformed requests.
- :mod:`voice.sip.sdp` – SDP and RFC 3264 offer/answer for G.711 + RFC 4733, hold/resume.
- :mod:`voice.sip.digest` – RFC 2617/7616 digest auth with stateless HMAC nonces.
- :mod:`voice.sip.transaction` – RFC 3261 (+ RFC 6026) transaction state machines on an injected
  clock, and the :class:`~voice.sip.transaction.TransactionLayer` that matches messages to them
  and retransmits 2xx until ACK.
- :mod:`voice.sip.dialog` – dialog state and in-dialog requests (BYE, re-INVITE, INFO, REFER,
  ACK for 2xx) with loose/strict routing.
- :mod:`voice.sip.transport` (asyncio driver of the layer and its timers), :mod:`voice.sip.udp`
  and :mod:`voice.sip.tcp` – the adapters that move bytes.

The transaction user (call service, registrar) is :mod:`voice.calls`; RTP is :mod:`voice.media`.
"""
