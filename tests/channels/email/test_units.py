"""Pure parts of the email channel: parsing, sanitising, threading rules, loop protection."""

from __future__ import annotations

from channels.email.inbound import accepts
from channels.email.parse import parse_message
from channels.email.sanitize import PLACEHOLDER, sanitise_html
from channels.email.threading import auto_reason, clean_subject, reply_subject, tagged_conversation


def mail(headers: str, body: str = "hi") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body).encode()


def test_reply_subject_keeps_one_prefix_and_one_tag():
    assert reply_subject("Re: RE: Fwd: Meter [#abc12345]", "abc12345") == "Re: Meter [#abc12345]"
    assert reply_subject(None, "abc12345") == "Re: Your message [#abc12345]"
    assert tagged_conversation("Re: Meter [#abc12345]") == "abc12345"
    assert clean_subject("AW: Re: Hello [#abc12345]") == "Hello"


def test_references_chain_is_nearest_first_without_duplicates():
    m = parse_message(mail("From: a@example.com\nMessage-ID: <3@x>\nIn-Reply-To: <2@x>\n"
                           "References: <1@x> <2@x>"))
    assert m.references_chain == ["<2@x>", "<1@x>"]


def test_missing_message_id_is_synthesised_from_the_content():
    a = parse_message(mail("From: a@example.com"))
    b = parse_message(mail("From: a@example.com"))
    assert a.message_id_synthesised and a.message_id == b.message_id


def test_loop_protection_recognises_machine_mail():
    def reason(headers: str, envelope: str | None = "a@example.com") -> str | None:
        return auto_reason(parse_message(mail(headers)), envelope, "support@hub.example.com")

    assert reason("From: a@example.com") is None
    assert reason("From: a@example.com\nAuto-Submitted: no") is None
    assert reason("From: a@example.com\nAuto-Submitted: auto-replied").startswith("auto-submitted")
    assert reason("From: a@example.com\nPrecedence: junk") == "precedence: junk"
    assert reason("From: a@example.com\nX-Autoreply: yes") == "x-autoreply"
    assert reason("From: a@example.com", envelope="") == "null sender"
    assert reason("From: MAILER-DAEMON@mx.example.com") == "mailer-daemon"
    assert reason("From: support@hub.example.com") == "own address"


def test_sanitiser_blocks_active_content_and_remote_loads():
    out = sanitise_html('<a href="javascript:x()">a</a><a href="https://ok.example/">b</a>'
                        '<img src="cid:logo@x"><img src="http://t.example/p.gif">'
                        '<svg><script>x</script></svg><object data="x"></object>',
                        {"logo@x": "/api/attachments/abc"})
    assert 'href="javascript' not in out.html and 'href="https://ok.example/"' in out.html
    assert 'src="/api/attachments/abc"' in out.html and PLACEHOLDER in out.html
    assert "<svg" not in out.html and "<object" not in out.html and "<script" not in out.html
    assert out.remote_images == ["http://t.example/p.gif"]


def test_recipient_policy_matches_addresses_and_domains():
    accepted = ("@hub.example.com", "sales@other.example.org")
    assert accepts("<Support@HUB.example.com>", accepted)
    assert accepts("sales@other.example.org", accepted)
    assert not accepts("ceo@other.example.org", accepted)
    assert not accepts("nobody", accepted)
