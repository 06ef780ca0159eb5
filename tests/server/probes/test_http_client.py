"""What the probes' own HTTP client does on the wire: redirects that change the method
or the origin, HEAD, bodies cut short or ending with the connection, and headers that
cannot be sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from tests.server.probes.targets import Targets
from tocsin.server.domain.observations import FailureKind
from tocsin.server.probes import HttpTarget, ProbeClient, run_http_probe

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SHORT = timedelta(seconds=2)
SECRET = {"Authorization": "Bearer s3cret"}


async def test_a_post_answered_with_303_continues_as_a_get_without_its_body(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/see-other", method="POST", body=b"payload")
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.status == 200
    echoed = json.loads(observation.body)
    assert (echoed["method"], echoed["body"]) == ("GET", "")
    assert "Content-Length" not in echoed["headers"]


async def test_authorization_follows_a_redirect_on_the_same_origin_only(
    client: ProbeClient, targets: Targets
) -> None:
    same = HttpTarget(f"{targets.http_url}/away?to=/echo", headers=SECRET)
    echoed = json.loads((await run_http_probe(client, same, now=NOW)).body)
    assert echoed["headers"]["Authorization"] == "Bearer s3cret"

    elsewhere = f"{targets.https_url}/echo"  # another scheme, host and port
    other = HttpTarget(f"{targets.http_url}/away?to={quote(elsewhere, safe='')}", headers=SECRET)
    observation = await run_http_probe(client, other, now=NOW)
    assert observation.status == 200
    assert "Authorization" not in json.loads(observation.body)["headers"]
    assert observation.cert_not_after is not None  # the final answer came over TLS


async def test_head_reads_no_body_and_the_next_probe_still_works(
    client: ProbeClient, targets: Targets
) -> None:
    head = HttpTarget(f"{targets.http_url}/status/200", method="HEAD", timeout=SHORT)
    observation = await run_http_probe(client, head, now=NOW)
    assert (observation.failure, observation.status, observation.body) == (None, 200, b"")
    assert observation.headers["content-length"] == "10"
    after = await run_http_probe(client, HttpTarget(f"{targets.http_url}/status/200"), now=NOW)
    assert (after.status, after.body) == (200, b"status 200")


async def test_a_body_cut_short_of_its_length_is_a_connection_failure(
    client: ProbeClient, targets: Targets
) -> None:
    url = f"http://127.0.0.1:{targets.short_body_port}/"
    observation = await run_http_probe(client, HttpTarget(url, timeout=SHORT), now=NOW)
    assert observation.failure is FailureKind.CONNECTION
    assert observation.error == "the body ended early or was malformed"


async def test_a_body_without_a_length_ends_with_the_connection(
    client: ProbeClient, targets: Targets
) -> None:
    url = f"http://127.0.0.1:{targets.until_close_port}/"
    observation = await run_http_probe(client, HttpTarget(url, timeout=SHORT), now=NOW)
    assert observation.failure is None
    assert (observation.status, observation.body) == (200, b"read until the close")


async def test_a_header_value_with_a_line_break_is_a_config_failure_naming_the_header(
    client: ProbeClient, targets: Targets
) -> None:
    # An environment variable substituted into a header can hold one.
    target = HttpTarget(f"{targets.http_url}/echo", headers={"X-Token": "abc\r\nX-Evil: 1"})
    observation = await run_http_probe(client, target, now=NOW)
    assert observation.failure is FailureKind.CONFIG
    assert observation.error == "the header X-Token has a line break in its value"


async def test_keep_alive_reuses_one_connection_for_many_probes(
    client: ProbeClient, targets: Targets
) -> None:
    target = HttpTarget(f"{targets.http_url}/status/200")
    first = await run_http_probe(client, target, now=NOW)
    assert first.timings.connect_ms is not None
    for _ in range(5):
        again = await run_http_probe(client, target, now=NOW)
        assert again.status == 200
        assert again.timings.connect_ms is None
