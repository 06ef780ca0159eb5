"""HTTP probes against a real local server: what a user reads in an observation."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from tests.conftest import free_port
from tests.server.probes.targets import Targets
from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes import (
    DEFAULT_BODY_LIMIT,
    HEALTH_JSON_ACCEPT,
    PROBE_USER_AGENT,
    HttpTarget,
    ProbeClient,
    app_target,
    run_http_probe,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("code", [200, 204, 404, 500, 503])
async def test_any_status_is_an_answer_not_a_failure(
    client: ProbeClient, targets: Targets, code: int
) -> None:
    target = HttpTarget(f"{targets.http_url}/status/{code}")
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.status == code
    assert observation.failure is None
    assert observation.error is None
    assert observation.body == (b"" if code == 204 else f"status {code}".encode())
    assert observation.started_at == NOW
    assert observation.url == target.url


async def test_json_body_headers_and_timings(client: ProbeClient, targets: Targets) -> None:
    observation = await run_http_probe(client, HttpTarget(f"{targets.http_url}/json"), now=NOW)
    assert json.loads(observation.body) == {"version": "1.2.3", "ok": True}
    assert observation.body_truncated is False
    assert observation.headers["content-type"].startswith("application/json")
    timings = observation.timings
    # An IP literal needs no lookup; the first probe opens a connection.
    assert timings.dns_ms is None
    assert timings.connect_ms is not None and timings.connect_ms >= 0
    assert timings.first_byte_ms is not None and timings.total_ms is not None
    assert 0 <= timings.first_byte_ms <= timings.total_ms
    assert observation.response_time_ms == timings.total_ms
    assert observation.cert_not_after is None


async def test_a_name_is_looked_up_and_timed(client: ProbeClient, targets: Targets) -> None:
    port = targets.http_url.rsplit(":", 1)[1]
    target = HttpTarget(f"http://localhost:{port}/status/200")
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.status == 200
    assert observation.timings.dns_ms is not None
    # The next probe finds the name cached and the connection kept alive.
    again = await run_http_probe(client, target, now=NOW)
    assert again.status == 200
    assert (again.timings.dns_ms, again.timings.connect_ms) == (None, None)


async def test_method_headers_and_body_are_sent(client: ProbeClient, targets: Targets) -> None:
    target = HttpTarget(
        f"{targets.http_url}/echo",
        method="POST",
        headers={"Authorization": "Bearer s3cret", "X-Custom": "yes"},
        body=b'{"ping": 1}',
    )
    observation = await run_http_probe(client, target, now=NOW)
    echoed = json.loads(observation.body)
    assert echoed["method"] == "POST"
    assert echoed["headers"]["Authorization"] == "Bearer s3cret"
    assert echoed["headers"]["X-Custom"] == "yes"
    assert echoed["headers"]["User-Agent"] == PROBE_USER_AGENT
    assert echoed["body"] == '{"ping": 1}'


def test_secrets_stay_out_of_the_target_repr() -> None:
    target = HttpTarget(
        "http://127.0.0.1/x", headers={"Authorization": "Bearer s3cret"}, body=b"token=s3cret"
    )
    assert "s3cret" not in repr(target)
    assert "Authorization" in repr(target)


async def test_a_password_in_the_url_is_not_in_the_observation(
    client: ProbeClient, targets: Targets
) -> None:
    url = targets.http_url.replace("http://", "http://user:pa55word@") + "/status/200"
    observation = await run_http_probe(client, HttpTarget(url), now=NOW)
    assert observation.status == 200
    assert "pa55word" not in observation.url
    assert observation.url.startswith("http://user@127.0.0.1:")


async def test_cookies_are_never_sent_back(client: ProbeClient, targets: Targets) -> None:
    set_cookie = await run_http_probe(client, HttpTarget(f"{targets.http_url}/cookie"), now=NOW)
    assert "session=" in set_cookie.headers["set-cookie"]
    echoed = await run_http_probe(client, HttpTarget(f"{targets.http_url}/echo"), now=NOW)
    assert "Cookie" not in json.loads(echoed.body)["headers"]


async def test_one_redirect_is_followed(client: ProbeClient, targets: Targets) -> None:
    observation = await run_http_probe(client, HttpTarget(f"{targets.http_url}/redirect"), now=NOW)
    assert observation.status == 200
    assert observation.body == b"status 200"


async def test_without_following_the_redirect_is_the_answer(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/redirect", follow_redirects=False)
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.status == 302
    assert observation.failure is None
    assert observation.headers["location"] == "/status/200"


async def test_redirects_up_to_the_limit_are_followed(
    client: ProbeClient, targets: Targets
) -> None:
    within = HttpTarget(f"{targets.http_url}/chain/3", max_redirects=3)
    beyond = HttpTarget(f"{targets.http_url}/chain/4", max_redirects=3)
    assert (await run_http_probe(client, within, now=NOW)).body == b"end of chain"
    failed = await run_http_probe(client, beyond, now=NOW)
    assert failed.failure is FailureKind.REDIRECTS
    assert failed.error == "more than 3 redirects"


async def test_a_redirect_loop_fails_as_redirects_within_the_timeout(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/loop", timeout=timedelta(seconds=5))
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.failure is FailureKind.REDIRECTS
    assert observation.status is None


async def test_app_probe_asks_for_health_json_and_reads_a_503_body(
    client: ProbeClient, targets: Targets
) -> None:
    targets.health.status_code = 503
    targets.health.body = {
        "status": "fail",
        "checks": {"rq:workers": [{"componentId": "emails", "observedValue": 0}]},
    }
    target = app_target(HttpTarget(f"{targets.http_url}/health"))
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.status == 503
    assert observation.failure is None
    assert observation.headers["content-type"] == "application/health+json"
    assert json.loads(observation.body) == targets.health.body

    echo = await run_http_probe(client, app_target(HttpTarget(f"{targets.http_url}/echo")), now=NOW)
    assert json.loads(echo.body)["headers"]["Accept"] == HEALTH_JSON_ACCEPT


def test_app_target_keeps_the_users_accept_header() -> None:
    target = HttpTarget("http://127.0.0.1/health", headers={"accept": "application/json"})
    assert app_target(target).headers == {"accept": "application/json"}


async def test_a_50_mb_body_is_cut_at_the_limit(client: ProbeClient, targets: Targets) -> None:
    target = HttpTarget(f"{targets.http_url}/big")
    started = time.monotonic()
    observation = await run_http_probe(client, target, now=NOW)
    # Cut at the limit, not read on until the timeout (10 s by default).
    assert time.monotonic() - started < target.timeout.total_seconds() / 5
    assert observation.failure is None
    assert observation.status == 200
    assert observation.body_truncated is True
    assert len(observation.body) == DEFAULT_BODY_LIMIT
    assert set(observation.body) == {ord("x")}


async def test_a_body_exactly_at_the_limit_is_not_truncated(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/status/200", body_limit=len(b"status 200"))
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.body == b"status 200"
    assert observation.body_truncated is False
    short = HttpTarget(f"{targets.http_url}/status/200", body_limit=6)
    cut = await run_http_probe(client, short, now=NOW)
    assert (cut.body, cut.body_truncated) == (b"status", True)


@pytest.mark.parametrize(
    "fields",
    [{"timeout": timedelta(0)}, {"max_redirects": 0}, {"body_limit": -1}],
    ids=["zero-timeout", "zero-redirects", "negative-body-limit"],
)
def test_nonsense_targets_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is the field's own
        HttpTarget("http://127.0.0.1/", **fields)  # type: ignore[arg-type]


async def test_headers_have_lower_case_names_and_repeats_joined(
    client: ProbeClient,
) -> None:
    async def repeated(_request: web.Request) -> web.Response:
        response = web.Response(text="ok")
        response.headers.add("X-Repeated", "one")
        response.headers.add("x-repeated", "two")
        response.headers["Cache-Control"] = "no-store"
        return response

    app = web.Application()
    app.router.add_get("/", repeated)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        observation = await run_http_probe(client, HttpTarget(f"http://127.0.0.1:{port}/"), now=NOW)
    finally:
        await runner.cleanup()
    assert observation.headers["x-repeated"] == "one, two"
    assert observation.headers.get("cache-control") == "no-store"
    assert "Cache-Control" not in observation.headers
    assert dict(observation.headers)["content-type"].startswith("text/plain")
