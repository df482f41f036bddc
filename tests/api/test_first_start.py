"""First start without demo data (issue #16, item 12): ``python server.py create-admin`` makes the
first administrator; with demo data off the published demo password opens no account; new
passwords follow the policy; hashes use OWASP's scrypt parameters and older ones are replaced at
login."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from sqlalchemy import select, update

from bootstrap import load_settings
from hub.db import tables as t
from hub.errors import ConfigError
from hub.security import DEFAULT_SCRYPT, ScryptParams, hash_password, needs_rehash, verify_password
from server import create_admin_command
from tests.support.databases import fresh_sqlite
from tests.support.hub import REPO, TEST_SCRYPT_N, ApiClient, running_hub

GOOD = "correct-horse-42"


def _env(data_dir, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    fresh_sqlite(data_dir)
    return {"HUB_DATA_DIR": str(data_dir), "HUB_PASSWORD_SCRYPT_N": str(TEST_SCRYPT_N), **extra}


def test_password_hashes_use_owasps_scrypt_parameters_by_default() -> None:
    assert load_settings(environ={}).password_scrypt_n == 2**17
    assert DEFAULT_SCRYPT == ScryptParams(n=2**17, r=8, p=1)
    stored = hash_password(GOOD)
    assert stored.startswith("scrypt$131072$8$1$") and verify_password(GOOD, stored)
    assert not verify_password("wrong-password", stored) and not needs_rehash(stored)
    old = hash_password(GOOD, ScryptParams(2**14))  # what the hub stored before
    assert verify_password(GOOD, old) and needs_rehash(old)
    for bad in ("1000", "3000", str(2**21)):
        with pytest.raises(ConfigError, match="password_scrypt_n"):
            load_settings(environ={"HUB_PASSWORD_SCRYPT_N": bad})


def test_create_admin_on_the_command_line_makes_the_first_administrator(tmp_path) -> None:
    """The real ``python server.py create-admin``, the password from a file (a container secret)."""
    secret = tmp_path / "admin-password"
    secret.write_text(GOOD + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(_env(tmp_path / "data"))
    done = subprocess.run([sys.executable, str(REPO / "server.py"), "create-admin", "--username", "root",
                           "--password-file", str(secret)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "administrator 'root' created" in done.stdout
    again = subprocess.run([sys.executable, str(REPO / "server.py"), "create-admin", "--if-missing"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL, check=False)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr


async def test_create_admin_refuses_weak_passwords_taken_names_and_a_missing_password(tmp_path, capsys):
    env = _env(tmp_path / "data")

    async def run(*args: str, **extra: str) -> int:
        return await asyncio.to_thread(create_admin_command, list(args), {**env, **extra})

    assert await run() == 2  # no password anywhere and no terminal
    assert "no password given" in capsys.readouterr().err
    assert await run(HUB_ADMIN_PASSWORD="short") == 1
    assert "at least 10 characters" in capsys.readouterr().err
    assert await run(HUB_ADMIN_PASSWORD="demo") == 1
    assert "demo password cannot be used" in capsys.readouterr().err
    assert await run("--username", "administrator", HUB_ADMIN_PASSWORD="Administrator") == 1
    assert "cannot be the username" in capsys.readouterr().err
    assert await run("--username", "boss", HUB_ADMIN_PASSWORD=GOOD) == 0
    assert await run("--username", "boss", HUB_ADMIN_PASSWORD=GOOD) == 1
    assert "exists already" in capsys.readouterr().err
    assert await run("--if-missing") == 0  # an administrator exists: no password needed
    assert "nothing to do" in capsys.readouterr().out

    async with running_hub(tmp_path / "data", demo=False) as hub:
        users = await hub.services.auth.list_users()
        assert [(u.username, u.roles) for u in users] == [("boss", ("admin",))]  # no demo seeding
        boss = await ApiClient(hub.base_url).login("boss", GOOD)
        assert boss.user is not None and "admin" in boss.user["roles"]
        await boss.close()


async def test_without_demo_data_the_demo_password_opens_no_account(tmp_path):
    data = tmp_path / "data"
    async with running_hub(data) as hub:  # demo data seeded: every demo user's password is "demo"
        await (await hub.client()).login("agent1", "demo")
    async with running_hub(data, demo=False) as hub:
        anon = await hub.client()
        for username in ("agent1", "admin", "nobody"):
            r = await anon.post("/api/auth/login", {"username": username, "password": "demo"})
            assert r.status_code == 403, r.text
            problem = r.json()
            assert problem["code"] == "demo_password_refused"
            assert "demo password is not accepted because demo data is off" in problem["detail"]
            assert "create-admin" in problem["detail"]
        r = await anon.post("/api/auth/login", {"username": "agent1", "password": "wrong-one"})
        assert r.status_code == 401
        # an administrator's new password for the account works
        admin_id = (await hub.services.auth.user_by_username("admin")).id
        async with hub.services.db.tx() as tx:
            await tx.conn.execute(update(t.users).where(t.users.c.id == admin_id)
                                  .values(password_hash=hash_password(GOOD, ScryptParams(TEST_SCRYPT_N))))
        await (await hub.client()).login("admin", GOOD)


async def test_new_and_changed_passwords_follow_the_policy(hub):
    admin = await hub.client("admin")
    agent2 = (await hub.services.auth.user_by_username("agent2")).id
    for password, code, words in [("short-1", "password_too_short", "at least 10 characters"),
                                  ("demo", "password_is_demo", "demo password"),
                                  ("Casey.Jones", "password_is_username", "cannot be the username")]:
        r = await admin.post("/api/users", {"username": "casey.jones", "password": password})
        assert r.status_code == 422 and r.json()["code"] == code and words in r.json()["detail"], r.text
        assert r.json()["errors"][0]["loc"] == ["body", "password"]
    r = await admin.patch(f"/api/users/{agent2}", {"password": "tiny"})
    assert r.status_code == 422 and r.json()["code"] == "password_too_short"
    r = await admin.patch(f"/api/users/{agent2}", {"password": "agent2agent2"})
    assert r.status_code == 200  # "agent2agent2" is 12 characters and not the username
    await admin.ok("POST", "/api/users", {"username": "casey.jones", "password": GOOD}, status=201)
    await (await hub.client()).login("casey.jones", GOOD)


async def test_a_login_replaces_a_hash_made_with_older_parameters(hub):
    auth = hub.services.auth
    uid = (await auth.user_by_username("agent3")).id
    old = hash_password(GOOD, ScryptParams(2**14))  # the parameters the hub used before
    async with hub.services.db.tx() as tx:
        await tx.conn.execute(update(t.users).where(t.users.c.id == uid).values(password_hash=old))

    async def stored() -> str:
        async with hub.services.db.read() as conn:
            return (await conn.execute(select(t.users.c.password_hash).where(t.users.c.id == uid))).scalar_one()

    r = await (await hub.client()).post("/api/auth/login", {"username": "agent3", "password": "not-it-at-all"})
    assert r.status_code == 401 and await stored() == old  # a wrong password changes nothing
    await (await hub.client()).login("agent3", GOOD)
    new = await stored()
    assert new != old and new.startswith(f"scrypt${TEST_SCRYPT_N}$8$1$") and not needs_rehash(new, auth.scrypt)
    await (await hub.client()).login("agent3", GOOD)  # the new hash verifies
    assert await stored() == new
