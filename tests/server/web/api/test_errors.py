"""Every error answers ``{"error": ...}`` (+ ``fields`` on 422), never a traceback or HTML."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

API = "/api/v1"


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"{API}/nothing/here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no such endpoint: /api/v1/nothing/here"}

    wrong_method = await client.put(f"{API}/monitors", json={})
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "method PUT is not allowed on /api/v1/monitors"}


async def test_bad_json_and_wrong_types(client: httpx.AsyncClient) -> None:
    broken = await client.post(
        f"{API}/monitors", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json() == {"error": "invalid request", "fields": {"body": "is not valid JSON"}}

    not_object = await client.post(f"{API}/monitors", json=["a"])
    assert not_object.status_code == 422
    assert set(not_object.json()) == {"error", "fields"}

    no_body = await client.post(f"{API}/monitors")
    assert no_body.status_code == 422
    assert no_body.json()["fields"] == {"body": "is required"}

    wrong = await client.post(f"{API}/monitors", json={"name": "x", "tags": "db", "period": True})
    assert wrong.status_code == 422
    assert {"tags", "period"} <= set(wrong.json()["fields"])


async def test_unexpected_errors_are_a_bare_500(
    app: FastAPI, write_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with caplog.at_level(logging.ERROR, logger="tocsin.server.web.api.errors"):
            answer = await client.get("/api/v1/boom")
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error"}
    assert "secret" not in answer.text
    assert "RuntimeError: secret internals" in caplog.text


async def test_paths_outside_the_api_answer_in_the_error_shape(
    anonymous: httpx.AsyncClient,
) -> None:
    # Found by a new user: /elsewhere answered FastAPI's {"detail": "Not Found"}.
    answer = await anonymous.get("/elsewhere")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"error": "no such endpoint: /elsewhere"}
    wrong = await anonymous.post("/openapi.json")
    assert wrong.status_code == 405
    assert wrong.json() == {"error": "method POST is not allowed on /openapi.json"}
    assert wrong.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        pytest.param("/monitors", "GET, POST", id="monitors"),
        pytest.param("/monitors/x", "DELETE, GET, PATCH", id="monitor"),
        pytest.param("/monitors/x/pause", "POST", id="pause"),
        pytest.param("/channels", "GET, POST", id="channels"),
        pytest.param("/channels/x", "DELETE, GET, PATCH", id="channel"),
    ],
)
async def test_405_lists_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, allowed: str
) -> None:
    # Defect 9: the Allow header named only the first route's methods (GET).
    answer = await client.put(f"{API}{path}", json={})
    assert answer.status_code == 405
    assert answer.headers["allow"] == allowed


async def test_openapi_documents_the_errors(anonymous: httpx.AsyncClient) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    create = spec["paths"]["/api/v1/monitors"]["post"]
    assert {"201", "401", "403", "409", "422", "500"} <= set(create["responses"])
    fields_error = create["responses"]["422"]["content"]["application/json"]["schema"]
    assert fields_error == {"$ref": "#/components/schemas/FieldsError"}
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}


async def test_a_body_that_is_not_text_is_bad_json(client: httpx.AsyncClient) -> None:
    # Found by schemathesis: FastAPI answered invalid UTF-8 with an undocumented 400.
    answer = await client.post(
        f"{API}/monitors", content=b"\xff\xfe\xfd", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json() == {"error": "invalid request", "fields": {"body": "is not valid JSON"}}
