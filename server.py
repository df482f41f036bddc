"""Run the hub: ``python server.py [--config hub.toml] [--demo]``; ``python server.py --openapi FILE``
writes the OpenAPI document (every component on) without starting anything.

Settings come from defaults <- TOML file <- HUB_* environment <- these flags
(see docs/CONFIGURATION.md).

``python server.py create-admin [--username admin] [--password-file PATH]`` creates the first
administrator (README, "First start"): the password from ``--password-file`` (``-``: standard
input), else ``HUB_ADMIN_PASSWORD_FILE`` or ``HUB_ADMIN_PASSWORD``, else asked twice in the
terminal. ``--if-missing`` does nothing when an administrator exists (container start scripts)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import logging.config
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import uvicorn

from bootstrap import build_app, load_settings, openapi_document
from hub.config import Settings
from hub.errors import ConfigError, HubError
from hub.first_admin import create_admin
from hub.logs import logging_config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["create-admin"]:
        logging.config.dictConfig(logging_config("warning"))
        return create_admin_command(argv[1:])
    parser = argparse.ArgumentParser(description="Omnichannel contact hub",
                                     epilog="python server.py create-admin --help: the first administrator")
    parser.add_argument("--config", help="TOML configuration file (or HUB_CONFIG)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--demo", action="store_true", help="seed demo users, queues and contacts")
    parser.add_argument("--openapi", metavar="FILE",
                        help="write /api/openapi.json of the app with every component on to FILE "
                             "('-': standard output) and exit; starts no server")
    args = parser.parse_args(argv)
    if args.openapi:
        text = json.dumps(openapi_document(), indent=1, sort_keys=True) + "\n"
        if args.openapi == "-":
            sys.stdout.write(text)
        else:
            Path(args.openapi).write_text(text, encoding="utf-8")
        return 0
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    if args.demo:
        overrides["demo"] = True
    try:
        settings = load_settings(args.config, **overrides)
    except ConfigError as err:
        print(f"configuration error: {err.detail}", file=sys.stderr)
        return 2
    # secrets in query strings redacted, mail sessions not logged at info (hub/logs.py)
    logging.config.dictConfig(logging_config(settings.log_level))
    uvicorn.run(build_app(settings), **uvicorn_options(settings))
    return 0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the hub: address, logging, proxies it believes, and TLS when the hub
    ends it itself (docs/SECURITY.md, "Reverse proxy and TLS")."""
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_config": None,
        "log_level": settings.log_level, "lifespan": "on",
        "ws_per_message_deflate": settings.ws_per_message_deflate,
        "proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips,
    }
    if settings.tls_certfile:
        options.update(ssl_certfile=settings.tls_certfile, ssl_keyfile=settings.tls_keyfile)
    return options


class _NoPassword(Exception):
    pass


def _password_source(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, str | None]:
    """Where the password comes from and, unless it is asked in the terminal, the password."""
    path = args.password_file or env.get("HUB_ADMIN_PASSWORD_FILE")
    if path:
        if path == "-":
            return "standard input", sys.stdin.readline().rstrip("\r\n")
        try:
            with open(path, encoding="utf-8") as fh:
                return path, fh.readline().rstrip("\r\n")
        except OSError as err:
            raise _NoPassword(f"cannot read the password file {path}: {err.strerror}") from err
    if env.get("HUB_ADMIN_PASSWORD"):
        return "HUB_ADMIN_PASSWORD", env["HUB_ADMIN_PASSWORD"]
    if sys.stdin.isatty():
        return "terminal", None
    raise _NoPassword("no password given: use --password-file PATH (or - for standard input), set "
                      "HUB_ADMIN_PASSWORD_FILE or HUB_ADMIN_PASSWORD, or run the command in a terminal")


def _ask_password(username: str) -> str:
    from hub.services.auth import MIN_PASSWORD_LENGTH, check_password_policy

    for _ in range(3):
        first = getpass.getpass(f"Password for {username} (at least {MIN_PASSWORD_LENGTH} characters): ")
        try:
            check_password_policy(first, username)
        except HubError as err:
            print(f"That password cannot be used: {err.detail}.", file=sys.stderr)
            continue
        if getpass.getpass("The same password again: ") == first:
            return first
        print("The two passwords differ; try again.", file=sys.stderr)
    raise _NoPassword("no password set after three tries")


def create_admin_command(argv: list[str], env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="python server.py create-admin",
        description="Create the first administrator (with HUB_DEMO off there are no users). The "
                    "password comes from --password-file, else HUB_ADMIN_PASSWORD_FILE or "
                    "HUB_ADMIN_PASSWORD, else it is asked in the terminal.")
    parser.add_argument("--config", help="TOML configuration file (or HUB_CONFIG)")
    parser.add_argument("--username", default=env.get("HUB_ADMIN_USERNAME") or "admin",
                        help="login name (default: HUB_ADMIN_USERNAME or admin)")
    parser.add_argument("--display-name", help="name shown in the UI (default: the username)")
    parser.add_argument("--password-file", help="file whose first line is the password; - reads standard input")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing (successfully) when an active administrator exists")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, environ=env)
    except ConfigError as err:
        print(f"configuration error: {err.detail}", file=sys.stderr)
        return 2
    try:
        source, given = _password_source(args, env)
    except _NoPassword as err:
        if not args.if_missing:
            print(f"create-admin: {err}", file=sys.stderr)
            return 2
        source, given = "", None  # needed only if there is no administrator yet

    def password() -> str:
        if given is not None:
            return given
        if source == "terminal":
            return _ask_password(args.username)
        raise _NoPassword("no password given: use --password-file, HUB_ADMIN_PASSWORD_FILE or "
                          "HUB_ADMIN_PASSWORD")

    try:
        print(asyncio.run(create_admin(settings, args.username, password,
                                       display_name=args.display_name, if_missing=args.if_missing)))
    except HubError as err:
        print(f"create-admin: {err.detail}", file=sys.stderr)
        return 1
    except _NoPassword as err:
        print(f"create-admin: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
