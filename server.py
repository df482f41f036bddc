"""Run the hub: ``python server.py [--config hub.toml] [--demo]``; ``python server.py --openapi FILE``
writes the OpenAPI document (every component on) without starting anything.

Settings come from defaults <- TOML file <- HUB_* environment <- these flags
(see docs/CONFIGURATION.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import uvicorn

from bootstrap import build_app, openapi_document
from hub.config import load_settings
from hub.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Omnichannel contact hub")
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
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level, lifespan="on",
                ws_per_message_deflate=settings.ws_per_message_deflate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
