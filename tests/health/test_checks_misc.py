"""SQL write, HTTP dependency, disk and Redis checks against real services."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import free_port
from tests.health.procs import entry
from tocsin.health import HealthChecker, below
from tocsin.health.checks.disk import DiskCheck
from tocsin.health.checks.http import HTTPCheck
from tocsin.health.checks.redis import RedisCheck
from tocsin.health.checks.sql import SQLWriteCheck


def run(*checks: object) -> dict[str, object]:
    body: dict[str, object] = HealthChecker(list(checks), ttl=0).run().to_json()  # type: ignore[arg-type]
    return body


def test_postgres_write_is_rolled_back(postgres_url: str) -> None:
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://")
    check = SQLWriteCheck(url)
    body = run(check)
    check.engine.dispose()
    write = entry(body, "database:write_latency")
    assert write["status"] == "pass"
    assert write["observedUnit"] == "ms"
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        tables = conn.execute(
            sa.text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'tocsin%'")
        )
        assert tables.scalar() == 0
    engine.dispose()


def test_postgres_refusing_writes_fails(postgres_url: str) -> None:
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://")
    engine = sa.create_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})
    body = run(SQLWriteCheck(engine))
    write = entry(body, "database:write_latency")
    assert write["status"] == "fail"
    assert "read-only transaction" in write["output"]
    assert body["status"] == "fail"
    engine.dispose()


def test_dedicated_table_mode_keeps_one_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    check = SQLWriteCheck(url, mode="table")
    for _ in range(3):
        assert entry(run(check), "database:write_latency")["status"] == "pass"
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tocsin_health_probe")).scalar() == 1


def test_read_only_sqlite_fails(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    sa.create_engine(f"sqlite:///{path}").connect().close()
    body = run(SQLWriteCheck(f"sqlite:///file:{path}?mode=ro&uri=true"))
    write = entry(body, "database:write_latency")
    assert write["status"] == "fail"
    assert "readonly" in write["output"]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = int(self.path.strip("/") or 200)
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_dependency_status(http_server: str) -> None:
    ok = entry(run(HTTPCheck(f"{http_server}/200", name="payments")), "payments:latency")
    assert ok["status"] == "pass"
    bad = entry(run(HTTPCheck(f"{http_server}/502", name="payments")), "payments:latency")
    assert (bad["status"], bad["output"]) == ("fail", "[STATUS] (502) == 200")
    down = entry(run(HTTPCheck(f"http://127.0.0.1:{free_port()}/", name="gone")), "gone:latency")
    assert down["status"] == "fail"
    assert "Connection refused" in down["output"]


def test_disk_space(tmp_path: Path) -> None:
    free = entry(run(DiskCheck(str(tmp_path))), "disk:free_percent")
    assert 0 < free["observedValue"] <= 100
    assert free["observedUnit"] == "%"
    strict = entry(run(DiskCheck(str(tmp_path), free=below(fail=100.1))), "disk:free_percent")
    assert strict["status"] == "fail"


def test_redis_latency(redis_url: str) -> None:
    latency = entry(run(RedisCheck(redis_url)), "redis:latency")
    assert latency["status"] == "pass"
    assert latency["componentId"] == redis_url.removeprefix("redis://")
    assert latency["observedValue"] < 1000
