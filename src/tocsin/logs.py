"""Logging for the server process (the app library never configures logging)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

# Up to this many events of one kind, done together (a deadline chunk's flips, a
# channel's deliveries), get an INFO line each; more get one INFO line saying how many,
# and their own lines at DEBUG. A burst of 10,000 monitors going down would otherwise
# write some 30,000 lines, at about 20 us of the server's CPU each (10 % of what the
# burst's alerts cost), when it is busiest; every flip and attempt is in the database.
EACH_AT_INFO = 10


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Send tocsin's and the servers' logs to stderr in ``console`` or ``json`` format."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "sqlalchemy.engine", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_each_or_count(
    logger: logging.Logger,
    message: str,
    rows: Sequence[tuple[object, ...]],
    summary: str,
    level: int = logging.INFO,
) -> None:
    """Log ``message`` with each of ``rows`` as its arguments at ``level`` (INFO); for more
    than ``EACH_AT_INFO`` rows, ``summary`` once at ``level`` and each row at DEBUG
    instead."""
    if len(rows) <= EACH_AT_INFO:
        for args in rows:
            logger.log(level, message, *args)
        return
    logger.log(level, summary)
    if logger.isEnabledFor(logging.DEBUG):
        for args in rows:
            logger.debug(message, *args)


def counted(values: Iterable[object]) -> str:
    """``value=count`` for each distinct value, the most frequent first: ``down=980 grace=20``."""
    return " ".join(f"{value}={count}" for value, count in Counter(values).most_common())
