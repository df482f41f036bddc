"""The HylaFAX client against the real HylaFAX server (Debian ``hylafax-server``: ``faxq`` and
``hfaxd`` on a private spool and a free loopback port). Without a fax modem the server keeps a job
waiting (``BLOCKED``/``SLEEPING``), so this proves the protocol up to a submitted, scheduled job:
login, the TIFF uploaded byte for byte, job parameters, submission, job state queries."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.fax.errors import GatewayError
from channels.fax.gateways import HylafaxGateway
from tests.channels.fax.support import make_tiff
from tests.support.postgres import free_port

SPOOL = Path("/var/spool/hylafax")


@pytest.fixture
def hfaxd() -> Iterator[tuple[int, Path]]:
    if not (shutil.which("hfaxd") and shutil.which("faxq") and SPOOL.is_dir()):
        pytest.skip("hylafax-server is not installed (apt-get install hylafax-server)")
    if os.geteuid() != 0:
        pytest.skip("hfaxd/faxq run as uucp: the test needs root to prepare their spool")
    root = Path(tempfile.mkdtemp(prefix="hfaxd-", dir="/tmp"))  # uucp must reach it
    root.chmod(0o755)
    spool = root / "spool"
    shutil.copytree(SPOOL, spool, symlinks=True)
    shutil.copytree("/etc/hylafax", spool / "etc", dirs_exist_ok=True)
    for name in ("passwd", "group", "nsswitch.conf", "hosts", "localtime"):
        if Path("/etc", name).exists():
            shutil.copy(Path("/etc", name), spool / "etc" / name, follow_symlinks=True)
    hosts = spool / "etc" / "hosts.hfaxd"
    hosts.write_text("127.0.0.1\n")  # loopback clients need no password
    subprocess.run(["chown", "-R", "uucp:uucp", str(spool)], check=True)
    hosts.chmod(0o600)
    port = free_port()
    faxq = subprocess.Popen(["faxq", "-q", str(spool), "-D"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    hfaxd = subprocess.Popen(["hfaxd", "-q", str(spool), "-i", str(port), "-d"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield port, spool
    finally:
        for proc in (hfaxd, faxq):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


async def test_a_fax_is_submitted_to_a_real_hylafax_server(hfaxd: tuple[int, Path], tmp_path: Path) -> None:
    port, spool = hfaxd
    tiff = make_tiff(tmp_path / "t", ["To the gas company", "page two"], device="tiffg4")
    gw = HylafaxGateway("127.0.0.1", port, "contact-hub", "", timeout_s=10)
    async with asyncio.timeout(30):
        while True:  # hfaxd takes a moment to listen
            try:
                ref = await gw.submit(tiff, "+861065529988", "job-1")
                break
            except GatewayError as err:
                if "cannot reach" not in err.detail:
                    raise
                await asyncio.sleep(0.2)
    docs = [p for p in (spool / "docq").iterdir() if p.name.startswith("doc") and ".tif" in p.name]
    assert [d.read_bytes() for d in docs] == [tiff.read_bytes()]
    status = await gw.status(ref)
    # no modem here: the scheduler holds the job; it is neither lost nor failed
    assert status.state == "sending", status
    ref2 = await gw.submit(tiff, "+861065520000", "job-2")
    assert int(ref2) == int(ref) + 1
