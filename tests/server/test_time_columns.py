"""Timestamps as the databases hand them back, and as SQLite stores them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tocsin.server.storage.types import SqliteTimes, utc_from_db, utc_to_sqlite

MOMENT = datetime(2026, 11, 24, 12, 0, 0, 123450, tzinfo=UTC)


@pytest.mark.parametrize(
    "stored",
    [
        "2026-11-24 12:00:00.123450",  # what SQLAlchemy and utc_to_sqlite write
        "2026-11-24T12:00:00.123450",
        "2026-11-24 12:00:00.12345Z",  # the same length, with a zone
        "2026-11-24 13:00:00.12345+01:00",
        "2026-11-24 12:00:00.12345+00:00",
        MOMENT,
        MOMENT.astimezone(timezone(timedelta(hours=-5))),
        MOMENT.replace(tzinfo=None),
    ],
)
def test_every_form_reads_as_the_same_aware_utc_moment(stored: object) -> None:
    moment = utc_from_db(stored)
    assert moment == MOMENT
    assert moment is not None and moment.utcoffset() == timedelta(0)


def test_sqlite_text_round_trips_and_repeats_reuse_the_text() -> None:
    assert utc_from_db(utc_to_sqlite(MOMENT)) == MOMENT
    texts = SqliteTimes()
    other = MOMENT + timedelta(seconds=1)
    assert [texts.text(t) for t in (MOMENT, MOMENT, None, other)] == [
        utc_to_sqlite(MOMENT),
        utc_to_sqlite(MOMENT),
        None,
        utc_to_sqlite(other),
    ]
