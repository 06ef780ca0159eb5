"""``tocsin apply`` of probed monitors (http, app, tcp): every problem with its line,
nothing applied; a valid file stores header placeholders, never the secret."""

from __future__ import annotations

import pytest

from tocsin.errors import ConfigError
from tocsin.server.config.apply import apply_document
from tocsin.server.config.backends import LocalBackend
from tocsin.server.config.loader import load_text
from tocsin.server.storage.database import Database
from tocsin.server.storage.monitors import list_monitors

BASE = "http://tocsin.test"
ENV = {"API_TOKEN": "s3cret"}

GOOD = """\
monitors:
  - name: api
    kind: http
    url: https://api.example.com/v1/ping
    interval: 30s
    timeout: 5s
    headers: {Authorization: "Bearer ${API_TOKEN}"}
    assert:
      - status == 200
      - response_time < 800ms
      - body contains "pong"
      - json $.version exists
      - cert_days > 14
    confirm: {fail: 2, recover: 1}
  - name: shop-app
    kind: app
    url: http://127.0.0.1:5000/healthz
    interval: 15s
    components:
      "rq:queue_depth": {warn: "> 500", fail: "> 2000"}
      "rq:oldest_job_age[emails]": {fail: "> 300"}
      "rq:workers": {fail: "< 1"}
  - name: redis-port
    kind: tcp
    host: 127.0.0.1
    port: 6379
    interval: 30s
"""

BAD = """\
monitors:
  - name: api
    kind: http
    url: ftp://example.com
    interval: 500ms
    assert:
      - status === 200
  - name: shop-app
    kind: app
    url: http://127.0.0.1:5000/healthz
    components:
      "workers": {fail: "< 1"}
  - name: redis-port
    kind: tcp
    host: 127.0.0.1
    period: 1m
"""


async def test_apply_stores_every_kind_with_placeholders_kept(db: Database) -> None:
    await apply_document(LocalBackend(db, BASE), load_text(GOOD, ENV))
    async with db.read() as conn:
        stored = {m.name: m for m in await list_monitors(conn, 1)}
    api = stored["api"]
    assert api.kind == "http" and api.interval_seconds == 30
    assert api.probe is not None
    assert api.probe["headers"] == {"Authorization": "Bearer ${API_TOKEN}"}
    assert "s3cret" not in str(api.probe)
    assert [a["subject"] for a in api.probe["assert"]][:2] == ["status", "response_time"]
    assert stored["shop-app"].probe["components"]["rq:workers"] == {"fail": "< 1"}  # type: ignore[index]
    assert stored["redis-port"].probe["port"] == 6379  # type: ignore[index]
    # The same file again changes nothing.
    again = await apply_document(LocalBackend(db, BASE), load_text(GOOD, ENV))
    assert again.plan.empty


async def test_apply_lists_every_problem_with_its_line(db: Database) -> None:
    with pytest.raises(ConfigError) as caught:
        await apply_document(LocalBackend(db, BASE), load_text(BAD, ENV))
    text = "\n".join(caught.value.problems)
    assert "tocsin.yaml:4: monitors[0] (api).url" in text
    assert "tocsin.yaml:5: monitors[0] (api).interval" in text
    assert "monitors[0] (api).assert[0]" in text
    assert "monitors[1] (shop-app).components.workers" in text
    assert "component:measurement" in text
    assert "monitors[2] (redis-port).port: is required" in text
    assert "tocsin.yaml:16: monitors[2] (redis-port).period" in text
    async with db.read() as conn:
        assert await list_monitors(conn, 1) == []


NESTED = """\
monitors:
  - name: api
    kind: http
    url: http://127.0.0.1:1/
    interval: 30s
    confirm: {fail: 0, recover: 1}
    headers:
      X-A: "ok"
      X.Bad name: "v"
      X-Token: "${1BAD}"
    assert:
      - status == 200
      - status === 200
      - subject: json
        op: exists
        path: $..x
    channels: []
  - name: shop
    kind: app
    url: http://127.0.0.1:1/healthz
    components:
      "workers": {fail: "< 1"}
      "rq:workers": {fail: "<< 1"}
      "rq:oldest_job_age[emails]":
        fail: "> 300"
        warn: "soon"
    escalate:
      after: 10s
      channels: [pager]
    flapping: {changes: 1}
"""


async def test_nested_problems_are_listed_at_the_line_of_the_bad_value(db: Database) -> None:
    with pytest.raises(ConfigError) as caught:
        await apply_document(LocalBackend(db, BASE), load_text(NESTED, ENV))
    lines = {
        problem.split(": ", 2)[1]: problem.split(":", 2)[1] for problem in caught.value.problems
    }
    assert lines == {
        "monitors[0] (api).confirm.fail": "6",
        "monitors[0] (api).headers.X.Bad name": "9",
        "monitors[0] (api).headers.X-Token": "10",
        "monitors[0] (api).assert[1]": "13",
        "monitors[0] (api).assert[2]": "14",
        "monitors[1] (shop).components.workers": "22",
        "monitors[1] (shop).components.rq:workers": "23",
        "monitors[1] (shop).components.rq:oldest_job_age[emails]": "24",
        "monitors[1] (shop).escalate.after": "28",
        "monitors[1] (shop).escalate.channels[0]": "29",
        "monitors[1] (shop).flapping.changes": "30",
    }
    text = "\n".join(caught.value.problems)
    assert (
        "tocsin.yaml:13: monitors[0] (api).assert[1]: unknown operator '===' "
        "(expected ==, !=, <, <=, >, >=, in) at column 8"
    ) in text
    assert "tocsin.yaml:23: monitors[1] (shop).components.rq:workers: fail: '<< 1'" in text
    async with db.read() as conn:
        assert await list_monitors(conn, 1) == []
