"""Run the hub: ``python server.py [--config hub.toml] [--demo]``.

Settings come from defaults <- TOML file <- HUB_* environment <- these flags
(see docs/CONFIGURATION.md)."""

from __future__ import annotations

import argparse
import logging
import logging.config
import sys

import uvicorn

from bootstrap import build_app
from hub.config import load_settings
from hub.errors import ConfigError
from hub.logs import logging_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Omnichannel contact hub")
    parser.add_argument("--config", help="TOML configuration file (or HUB_CONFIG)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--demo", action="store_true", help="seed demo users, queues and contacts")
    args = parser.parse_args(argv)
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
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None,
                log_level=settings.log_level, lifespan="on",
                ws_per_message_deflate=settings.ws_per_message_deflate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
