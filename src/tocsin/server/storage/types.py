"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` in Python, whatever the database stores.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive UTC text. Naive values are
    refused on the way in, so local time can never sneak into the database.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(_NAIVE)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return utc_from_db(value)


_NAIVE = "naive datetime given to the database; use an aware UTC value"


def utc_to_sqlite(value: datetime | None) -> str | None:
    """The text SQLite stores for an aware timestamp: naive UTC with microseconds, exactly
    as SQLAlchemy writes it (SQLite compares timestamps as text)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(_NAIVE)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class SqliteTimes:
    """``utc_to_sqlite`` for the rows of one statement: a time equal to one already
    converted reuses its text (the rows of a deadline pass share its ``now`` and the
    claims it sets)."""

    __slots__ = ("_texts",)

    def __init__(self) -> None:
        self._texts: dict[datetime | None, str | None] = {None: None}

    def text(self, value: datetime | None) -> str | None:
        """``utc_to_sqlite(value)``."""
        texts = self._texts
        if value not in texts:
            texts[value] = utc_to_sqlite(value)
        return texts[value]


# The length of the text SQLAlchemy (and ``utc_to_sqlite``) store: "2026-11-24 12:00:00.000000".
_SQLITE_TIME_LENGTH = 26


def utc_from_db(value: Any) -> datetime | None:
    """A timestamp as either database returns it, as an aware UTC ``datetime``.

    SQLite hands back naive text (also where an aggregate such as ``max()`` loses the
    column type); PostgreSQL an aware ``datetime``. The forms the engines read by the
    thousand take a short way: SQLAlchemy's own text (parsed with its offset, as
    ``datetime.replace`` costs ten times the parse) and asyncpg's UTC values (as they are).
    """
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == _SQLITE_TIME_LENGTH and value[19] == "." and value[20:].isdigit():
            return datetime.fromisoformat(value + "+00:00")
        moment = datetime.fromisoformat(value)
    elif isinstance(value, datetime):
        if value.tzinfo is UTC:
            return value
        moment = value
    else:
        moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
