"""Structured logs: one JSON object per line (production), or plain text (development).

Log calls pass ids through `user_tag` (a keyed pseudonym) and never the text a
user wrote; this module only shapes the lines.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "configure", "quiet_libraries"]

# Libraries whose DEBUG lines carry message texts (python-telegram-bot logs every Bot API
# call with its parameters) or raw request data: never below INFO, whatever LOG_LEVEL says.
CHATTY_LIBRARIES = ("telegram", "httpx", "httpcore", "aiohttp.client", "hpack")

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, int | float | bool | str) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            # The type and where: exception messages can quote what a user wrote.
            line["error"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def quiet_libraries() -> None:
    for name in CHATTY_LIBRARIES:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET (inherits) counts as below
            logger.setLevel(logging.INFO)


def configure(level: str, json_lines: bool) -> None:
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    quiet_libraries()
