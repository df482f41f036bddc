"""TLS without a reverse proxy (issue #16, item 9): ``python server.py`` with ``tls_certfile`` and
``tls_keyfile`` serves HTTPS with that certificate (a client trusting the CA that signed it gets
through; one that does not is refused) and no plain HTTP; a certificate without its key, a missing
file or a key of another certificate is a configuration error before anything starts."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bootstrap import load_settings
from hub.errors import ConfigError
from server import uvicorn_options
from tests.support.certs import make_certificates
from tests.support.hub import REPO, HubProcess


def test_the_hub_serves_https_with_its_certificate(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "tls")
    hub = HubProcess(tmp_path / "data", verify=certs.client_context(),
                     env={"HUB_TLS_CERTFILE": str(certs.cert), "HUB_TLS_KEYFILE": str(certs.key),
                          "HUB_SECRET_COOKIE_SECURE": "1"})
    assert hub.base_url.startswith("https://")
    hub.start()
    try:
        with httpx.Client(base_url=hub.base_url, verify=certs.client_context(), timeout=10) as https:
            r = https.get("/api/health")
            assert r.status_code == 200
            assert r.headers["strict-transport-security"] == "max-age=31536000"
            r = https.post("/api/auth/login", json={"username": "admin", "password": "demo"})
            assert r.status_code == 200, r.text
            cookie = r.headers["set-cookie"].lower()
            assert "hub_session=" in cookie and "secure" in cookie and "httponly" in cookie
        # a client that does not trust the CA refuses the certificate
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{hub.base_url}/api/health", verify=ssl.create_default_context(), timeout=10)
        # plain HTTP on the same port gets no answer from the hub
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{hub.port}/api/health", timeout=10)
    finally:
        hub.stop()


def test_uvicorn_gets_the_certificate_and_the_trusted_proxies(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "tls")
    options = uvicorn_options(load_settings(environ={
        "HUB_TLS_CERTFILE": str(certs.cert), "HUB_TLS_KEYFILE": str(certs.key),
        "HUB_FORWARDED_ALLOW_IPS": "10.0.0.5,10.0.1.0/24"}))
    assert options["ssl_certfile"] == str(certs.cert) and options["ssl_keyfile"] == str(certs.key)
    assert options["proxy_headers"] is True and options["forwarded_allow_ips"] == "10.0.0.5,10.0.1.0/24"
    plain = uvicorn_options(load_settings(environ={}))
    assert "ssl_certfile" not in plain and plain["forwarded_allow_ips"] == "127.0.0.1"


def test_a_bad_certificate_setting_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "tls")
    other = make_certificates(tmp_path / "other")
    with pytest.raises(ConfigError, match="'tls_certfile' and 'tls_keyfile' go together"):
        load_settings(environ={"HUB_TLS_CERTFILE": str(certs.cert)})
    with pytest.raises(ConfigError, match="'tls_keyfile': the file .* does not exist"):
        load_settings(environ={"HUB_TLS_CERTFILE": str(certs.cert), "HUB_TLS_KEYFILE": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="cannot use .* as a certificate and its key"):
        load_settings(environ={"HUB_TLS_CERTFILE": str(certs.cert), "HUB_TLS_KEYFILE": str(other.key)})
    run = subprocess.run([sys.executable, str(REPO / "server.py")], cwd=REPO, capture_output=True, text=True,
                         timeout=60, check=False,
                         env={"PATH": "/usr/bin:/bin", "HUB_TLS_CERTFILE": str(certs.cert),
                              "HUB_DATA_DIR": str(tmp_path / "data")})
    assert run.returncode == 2 and "configuration error: settings 'tls_certfile' and 'tls_keyfile'" in run.stderr
