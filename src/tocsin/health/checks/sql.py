"""The database accepts a write (SQLAlchemy, imported when this module is).

Reads can keep working while writes fail (a full disk, a replica promoted the wrong
way, ``default_transaction_read_only``), so this check writes:

- ``mode="rollback"`` (default): inside a transaction that is always rolled back,
  create a scratch table and insert a row (a temporary table on PostgreSQL, a real one
  on SQLite, whose DDL is transactional). Nothing is left behind.
- ``mode="table"``: insert a row into a dedicated table (created if missing) and commit,
  deleting older rows so it never grows; for databases without transactional DDL.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from tocsin.health.check import DEFAULT_TIMEOUT, Check
from tocsin.health.model import Measurement
from tocsin.health.thresholds import NEVER, Threshold


class WriteMode(StrEnum):
    """How :class:`SQLWriteCheck` proves a write works."""

    ROLLBACK = "rollback"
    TABLE = "table"


class SQLWriteCheck(Check):
    """``database:write_latency``: milliseconds to perform a write; fails when refused."""

    def __init__(
        self,
        target: str | sa.Engine,
        *,
        mode: WriteMode | str = WriteMode.ROLLBACK,
        table: str = "tocsin_health_probe",
        latency: Threshold = NEVER,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        self.engine = target if isinstance(target, sa.Engine) else _engine(target, timeout)
        url = self.engine.url
        options.setdefault("component_id", f"{url.get_backend_name()}:{url.database or ''}")
        super().__init__(
            component="database",
            measurements=["write_latency"],
            component_type="datastore",
            timeout=timeout,
            **options,
        )
        self.mode = WriteMode(mode)
        if not table.replace("_", "").isalnum():
            raise ValueError(f"table must be a plain identifier, got {table!r}")
        self.table = table
        self.latency = latency

    def collect(self) -> list[Measurement]:
        """Write once and time it."""
        start = time.perf_counter()
        try:
            self._write()
        except sa.exc.DBAPIError as exc:
            # A pooled connection the server closed (a restart) is not a failing database:
            # SQLAlchemy has invalidated it, so try once more on a fresh one.
            if not exc.connection_invalidated:
                raise
            start = time.perf_counter()
            self._write()
        elapsed = round((time.perf_counter() - start) * 1000, 3)
        output = f"{self.mode.value} write ok"
        return [
            self.measure("write_latency", elapsed, unit="ms", threshold=self.latency, output=output)
        ]

    def _write(self) -> None:
        if self.mode is WriteMode.ROLLBACK:
            self._write_and_roll_back()
        else:
            self._write_table()

    def _write_and_roll_back(self) -> None:
        scratch = f"{self.table}_tmp"
        insert = f"INSERT INTO {scratch} (x) VALUES (1)"  # noqa: S608
        dialect = self.engine.dialect.name
        with self.engine.connect() as conn:
            if dialect == "postgresql":
                # One round trip; a temporary table needs no CREATE right on a schema.
                with conn.begin() as transaction:
                    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {scratch} (x INTEGER); {insert}")
                    transaction.rollback()
                return
            if dialect == "sqlite":
                # pysqlite opens a transaction only before DML, so the DDL would commit on
                # its own: take the driver out of the way and open the transaction here.
                # IF NOT EXISTS: earlier versions of this check left the table behind.
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("BEGIN")
                try:
                    conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {scratch} (x INTEGER)")
                    conn.exec_driver_sql(insert)
                finally:
                    if getattr(conn.connection.dbapi_connection, "in_transaction", True):
                        conn.exec_driver_sql("ROLLBACK")
                return
            with conn.begin() as transaction:
                conn.exec_driver_sql(f"CREATE TABLE {scratch} (x INTEGER)")
                conn.exec_driver_sql(insert)
                transaction.rollback()

    def _write_table(self) -> None:
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(f"CREATE TABLE IF NOT EXISTS {self.table} (checked_at FLOAT NOT NULL)")
            )
            conn.execute(sa.text(f"DELETE FROM {self.table}"))  # noqa: S608
            conn.execute(
                sa.text(f"INSERT INTO {self.table} (checked_at) VALUES (:now)"),  # noqa: S608
                {"now": now},
            )


def _engine(url: str, timeout: float) -> sa.Engine:
    """An engine whose connects give up within the check's timeout."""
    parsed = sa.make_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, int(timeout))
    elif parsed.get_backend_name() == "sqlite":
        connect_args["timeout"] = timeout
    return sa.create_engine(parsed, pool_size=2, connect_args=connect_args)
