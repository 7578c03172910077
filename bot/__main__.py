"""`python -m bot`: run the gateway."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from bot.app import ConfigurationError, create_app
from bot.logs import configure
from bot.settings import Settings


def main() -> None:
    settings = Settings()
    configure(settings.log_level, json_lines=settings.log_format == "json")
    try:
        app = create_app(settings)
    except ConfigurationError as error:
        logging.getLogger("bot").error("Refusing to start: %s", error)
        sys.exit(2)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=lambda _: logging.getLogger("bot").info(
            "Web chat on http://%s:%d/", settings.host, settings.port
        ),
    )


if __name__ == "__main__":
    main()
