"""Logging in and out over HTTP: cookies, session rotation, throttling, stored hashes."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from tests.server.dashboard.conftest import (
    PASSWORD,
    add_user,
    client_for,
    csrf_token,
    empty_users,
    log_in,
)
from tests.server.live import LiveServer, live_server
from tocsin.server.storage.tables import user_sessions, users


def session_cookie_header(answer: httpx.Response) -> str:
    headers = [h for h in answer.headers.get_list("set-cookie") if h.startswith("tocsin_session=")]
    assert len(headers) == 1, answer.headers
    return headers[0]


async def test_login_then_home_lists_monitors(server: LiveServer) -> None:
    await add_user(server, "ada")
    await server.create_monitor(name="nightly-backup", period="1h", grace="5m")
    async with client_for(server) as client:
        assert (await client.get("/")).headers["location"] == "/ui/login?next=/"
        answer = await log_in(client, "ada")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        home = await client.get("/")
    assert home.status_code == 200
    assert "nightly-backup" in home.text
    assert 'class="state state-new">new<' in home.text
    assert '<main id="main"' in home.text and 'href="#main"' in home.text


async def test_session_cookie_is_httponly_lax_and_not_secure_over_plain_http(
    server: LiveServer,
) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        cookie = session_cookie_header(await log_in(client, "ada")).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie


async def test_cookies_are_secure_behind_a_trusted_tls_proxy(
    database_url: str, tmp_path: Path
) -> None:
    await empty_users(database_url)
    async with live_server(database_url, tmp_path, TOCSIN_TRUST_PROXY="1") as proxied:
        await add_user(proxied, "ada")
        # The client speaks plain HTTP to the server, as a TLS-terminating proxy does; it
        # must hand back the Secure form cookie itself (a cookie jar would not over http).
        async with client_for(proxied, headers={"X-Forwarded-Proto": "https"}) as client:
            page = await client.get("/ui/login")
            form_cookie = page.headers["set-cookie"]
            answer = await client.post(
                "/ui/login",
                data={"csrf_token": csrf_token(page), "username": "ada", "password": PASSWORD},
                headers={"Cookie": form_cookie.split(";")[0]},
            )
    await empty_users(database_url)
    assert "; secure" in form_cookie.lower()
    assert "; secure" in session_cookie_header(answer).lower()


async def test_wrong_password_gets_no_session(server: LiveServer) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        answer = await log_in(client, "ada", "not the password")
        assert answer.status_code == 401
        assert "Wrong username or password." in answer.text
        assert "tocsin_session" not in client.cookies
        assert (await client.get("/")).status_code == 303
        unknown = await log_in(client, "nobody", PASSWORD)
    assert unknown.status_code == 401
    assert "Wrong username or password." in unknown.text


async def test_a_session_id_offered_before_login_is_not_honoured_and_is_replaced(
    server: LiveServer,
) -> None:
    await add_user(server, "ada")
    planted = "attacker-chosen-session-id-0123456789abcdef"
    async with client_for(server, cookies={"tocsin_session": planted}) as client:
        assert (await client.get("/")).status_code == 303
        answer = await log_in(client, "ada")
        issued = session_cookie_header(answer).split(";")[0].split("=", 1)[1]
    assert issued != planted
    async with client_for(server, cookies={"tocsin_session": planted}) as attacker:
        assert (await attacker.get("/")).status_code == 303
    async with client_for(server, cookies={"tocsin_session": issued}) as owner:
        assert (await owner.get("/")).status_code == 200


async def test_logging_in_with_a_live_session_replaces_it(server: LiveServer) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        await log_in(client, "ada")
        first = client.cookies["tocsin_session"]
    async with client_for(server) as client:
        page = await client.get("/ui/login")
        client.cookies.set("tocsin_session", first)
        answer = await client.post(
            "/ui/login",
            data={"csrf_token": csrf_token(page), "username": "ada", "password": PASSWORD},
        )
        second = session_cookie_header(answer).split(";")[0].split("=", 1)[1]
    assert second != first
    async with client_for(server, cookies={"tocsin_session": first}) as old:
        assert (await old.get("/")).status_code == 303
    async with client_for(server, cookies={"tocsin_session": second}) as new:
        assert (await new.get("/")).status_code == 200


async def test_logout_ends_the_session_on_the_server(server: LiveServer) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        await log_in(client, "ada")
        kept = client.cookies["tocsin_session"]
        home = await client.get("/")
        answer = await client.post("/ui/logout", data={"csrf_token": csrf_token(home)})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/login"
    async with client_for(server, cookies={"tocsin_session": kept}) as replay:
        assert (await replay.get("/")).status_code == 303
    async with server.database.read() as conn:
        assert (await conn.execute(select(user_sessions))).all() == []


async def test_five_failures_for_a_user_lock_that_user_out_with_retry_after(
    server: LiveServer,
) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        for _ in range(5):
            assert (await log_in(client, "ada", "guess")).status_code == 401
        locked = await log_in(client, "ada", PASSWORD)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert "Too many failed logins" in locked.text


async def test_five_failures_from_one_address_throttle_every_username(server: LiveServer) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        for name in ("u1", "u2", "u3", "u4", "u5"):
            assert (await log_in(client, name, "guess")).status_code == 401
        locked = await log_in(client, "ada", PASSWORD)
    assert locked.status_code == 429
    assert "retry-after" in locked.headers


async def test_passwords_are_stored_as_argon2_hashes_only(server: LiveServer) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        await log_in(client, "ada")
    async with server.database.read() as conn:
        rows = (await conn.execute(select(users))).mappings().all()
        sessions = (await conn.execute(select(user_sessions))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["password_hash"].startswith("$argon2id$")
    assert all(PASSWORD not in str(value) for value in rows[0].values())
    assert rows[0]["last_login_at"] is not None
    # The session table holds a hash of the cookie, never the cookie itself.
    cookie = client.cookies["tocsin_session"]
    assert [len(s["id_hash"]) for s in sessions] == [64]
    assert all(cookie not in str(value) for s in sessions for value in s.values())
