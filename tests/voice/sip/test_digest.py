"""Digest authentication: RFC 2617/7616 known answers, header syntax, nonce expiry/forgery."""

from __future__ import annotations

import pytest

from voice.sip.digest import (
    AuthResult,
    DigestAuthenticator,
    DigestChallenge,
    DigestCredentials,
    NonceFactory,
    compute_ha1,
    compute_response,
    parse_auth_header,
)
from voice.sip.errors import DigestError

SECRET = b"0123456789abcdef-test-secret"


def test_rfc2617_section_3_5_known_answer() -> None:
    assert (
        compute_response(
            algorithm="MD5",
            method="GET",
            uri="/dir/index.html",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
            username="Mufasa",
            realm="testrealm@host.com",
            password="Circle Of Life",
            qop="auth",
            nc="00000001",
            cnonce="0a4f113b",
        )
        == "6629fae49393a05397450978507c4ef1"
    )


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_section_3_9_1_known_answers(algorithm: str, expected: str) -> None:
    assert (
        compute_response(
            algorithm=algorithm,
            method="GET",
            uri="/dir/index.html",
            nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            username="Mufasa",
            realm="http-auth@example.org",
            password="Circle of Life",
            qop="auth",
            nc="00000001",
            cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        )
        == expected
    )


def test_rfc2069_form_without_qop() -> None:
    ha1 = compute_ha1("MD5", "u", "r", "p")
    assert len(compute_response(method="REGISTER", uri="sip:r", nonce="n", ha1=ha1, qop=None)) == 32


def test_parse_header_with_quoted_commas_and_escapes() -> None:
    scheme, params = parse_auth_header(
        'Digest username="Mu\\"fa, sa", realm="a,b", nonce="n", uri="sip:x", '
        'response="abc", algorithm=SHA-256,qop=auth, nc=00000001 , cnonce="c"'
    )
    assert scheme == "Digest"
    assert params["username"] == 'Mu"fa, sa' and params["realm"] == "a,b"
    assert params["algorithm"] == "SHA-256" and params["nc"] == "00000001"
    creds = DigestCredentials.parse(
        'Digest username="Mu\\"fa, sa", realm="a,b", nonce="n", uri="sip:x", response="ABC",'
        ' qop=auth, nc=00000001, cnonce="c"'
    )
    assert creds.response == "abc"
    assert DigestCredentials.parse(str(creds)) == creds


def test_register_fixture_authorization_parses() -> None:
    from tests.voice.sip.conftest import fixture_bytes
    from voice.sip.message import parse_message

    msg = parse_message(fixture_bytes("register_authorization.sip"))
    creds = DigestCredentials.parse(msg.require("Authorization"))
    assert (creds.username, creds.realm, creds.qop, creds.nc) == (
        "1001",
        "pbx.example.org",
        "auth",
        "00000001",
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        'Digest realm="unterminated',
        "Digest realm",
        'Digest realm="a" junk, nonce="n"',
        'Digest realm="a", realm="b"',
        'Digest username="u", realm="r", nonce="n", uri="x", response="r", qop=auth',
        'Digest realm="r", nonce="n", algorithm=SHA-512',
        "Basic dXNlcjpwYXNz",
    ],
)
def test_malformed_auth_headers(value: str) -> None:
    with pytest.raises(DigestError):
        if "username" in value:
            DigestCredentials.parse(value)
        else:
            DigestChallenge.parse(value)


def _authenticator() -> DigestAuthenticator:
    users = {"1001": "s3cret"}

    def lookup(username: str, algorithm: str) -> str | None:
        pw = users.get(username)
        return None if pw is None else compute_ha1(algorithm, username, "pbx.example.org", pw)

    return DigestAuthenticator("pbx.example.org", NonceFactory(SECRET, lifetime=300), lookup)


@pytest.mark.parametrize("index", [0, 1])
def test_challenge_response_round_trip_for_each_algorithm(index: int) -> None:
    auth = _authenticator()
    challenge = DigestChallenge.parse(str(auth.challenges(now=1000.0)[index]))
    creds = challenge.respond(method="REGISTER", uri="sip:pbx.example.org", username="1001", password="s3cret")
    parsed = DigestCredentials.parse(str(creds))
    assert auth.verify(parsed, "REGISTER", now=1010.0) is AuthResult.OK
    assert auth.verify(parsed, "REGISTER", now=1011.0) is AuthResult.REPLAY
    nc2 = challenge.respond(method="REGISTER", uri="sip:pbx.example.org", username="1001", password="s3cret", nc=2)
    assert auth.verify(nc2, "REGISTER", now=1012.0) is AuthResult.OK


def test_wrong_password_unknown_user_and_wrong_method() -> None:
    auth = _authenticator()
    ch = auth.challenges(now=0.0)[1]
    bad = ch.respond(method="REGISTER", uri="sip:pbx.example.org", username="1001", password="guess")
    assert auth.verify(bad, "REGISTER", now=1.0) is AuthResult.BAD_RESPONSE
    who = ch.respond(method="REGISTER", uri="sip:pbx.example.org", username="9", password="x")
    assert auth.verify(who, "REGISTER", now=1.0) is AuthResult.UNKNOWN_USER
    good = ch.respond(method="REGISTER", uri="sip:pbx.example.org", username="1001", password="s3cret")
    assert auth.verify(good, "INVITE", now=1.0) is AuthResult.BAD_RESPONSE
    assert auth.verify(good, "REGISTER", now=1.0, uri="sip:other") is AuthResult.MISMATCH


def test_expired_nonce_is_stale_only_when_the_password_was_right() -> None:
    auth = _authenticator()
    ch = auth.challenges(now=0.0)[0]
    good = ch.respond(method="REGISTER", uri="sip:pbx.example.org", username="1001", password="s3cret")
    assert auth.verify(good, "REGISTER", now=301.0) is AuthResult.STALE
    bad = ch.respond(method="REGISTER", uri="sip:pbx.example.org", username="1001", password="nope")
    assert auth.verify(bad, "REGISTER", now=301.0) is AuthResult.BAD_RESPONSE
    assert "stale=TRUE" in str(auth.challenges(now=301.0, stale=True)[0])


def test_forged_and_foreign_nonces_are_rejected() -> None:
    auth = _authenticator()
    nonces = NonceFactory(SECRET)
    real = nonces.make(100.0, "pbx.example.org")
    assert nonces.check(real, 100.0, "pbx.example.org") is AuthResult.OK
    assert nonces.check(real, 100.0, "other.realm") is AuthResult.BAD_NONCE
    assert NonceFactory(b"another-secret-of-16b").check(real, 100.0, "pbx.example.org") is (AuthResult.BAD_NONCE)
    tampered = ("A" if real[0] != "A" else "B") + real[1:]
    assert nonces.check(tampered, 100.0, "pbx.example.org") is AuthResult.BAD_NONCE
    for junk in ["", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "%%%", "a" * 43]:
        assert nonces.check(junk, 100.0, "pbx.example.org") is AuthResult.BAD_NONCE
    forged = DigestChallenge("pbx.example.org", "dcd98b7102dd2f0e8b11d0f600bfb0c093").respond(
        method="REGISTER", uri="sip:pbx.example.org", username="1001", password="s3cret"
    )
    assert auth.verify(forged, "REGISTER", now=100.0) is AuthResult.BAD_NONCE
    with pytest.raises(ValueError):
        NonceFactory(b"short")


def test_rfc2069_downgrade_without_qop_is_refused() -> None:
    auth = _authenticator()
    ch = auth.challenges(now=0.0)[1]
    no_qop = DigestChallenge(ch.realm, ch.nonce, ch.algorithm, qop=None).respond(
        method="REGISTER", uri="sip:pbx.example.org", username="1001", password="s3cret"
    )
    assert no_qop.qop is None
    assert auth.verify(no_qop, "REGISTER", now=1.0) is AuthResult.MISMATCH
