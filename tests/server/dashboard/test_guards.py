"""CSRF, roles and the first-run page over HTTP."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.server.dashboard.conftest import PASSWORD, add_user, client_for, csrf_token, log_in
from tests.server.live import LiveServer
from tocsin.server.storage.tables import users
from tocsin.server.storage.users import Role


async def user_names(server: LiveServer) -> list[str]:
    async with server.database.read() as conn:
        return sorted((await conn.execute(select(users.c.username))).scalars().all())


NEW_USER = {"username": "bob", "password": PASSWORD, "role": "read-only"}


async def test_unsafe_requests_without_the_csrf_token_are_refused(server: LiveServer) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        await log_in(client, "ada")
        token = csrf_token(await client.get("/ui/users"))
        missing = await client.post("/ui/users", data=NEW_USER)
        wrong = await client.post("/ui/users", data={**NEW_USER, "csrf_token": token[:-2] + "xx"})
        logout = await client.post("/ui/logout")
        assert (await client.get("/")).status_code == 200  # still logged in
    for answer in (missing, wrong, logout):
        assert answer.status_code == 403
        assert "Form expired" in answer.text
    assert await user_names(server) == ["ada"]


async def test_the_csrf_token_is_accepted_in_a_form_field_or_the_htmx_header(
    server: LiveServer,
) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        await log_in(client, "ada")
        token = csrf_token(await client.get("/ui/users"))
        field = await client.post("/ui/users", data={**NEW_USER, "csrf_token": token})
        header = await client.post(
            "/ui/users",
            data={**NEW_USER, "username": "cy"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
    assert (field.status_code, header.status_code) == (303, 303)
    assert await user_names(server) == ["ada", "bob", "cy"]


async def test_the_login_form_needs_its_token(server: LiveServer) -> None:
    await add_user(server, "ada")
    async with client_for(server) as client:
        answer = await client.post("/ui/login", data={"username": "ada", "password": PASSWORD})
    assert answer.status_code == 403
    assert "tocsin_session" not in answer.headers.get("set-cookie", "")


async def test_a_read_only_user_views_but_cannot_change(server: LiveServer) -> None:
    await add_user(server, "viewer", Role.READ_ONLY)
    async with client_for(server) as client:
        await log_in(client, "viewer")
        home = await client.get("/")
        assert home.status_code == 200
        assert 'href="/ui/users"' not in home.text
        denied_page = await client.get("/ui/users")
        denied_post = await client.post(
            "/ui/users", data={**NEW_USER, "role": "admin", "csrf_token": csrf_token(home)}
        )
    assert denied_page.status_code == 403
    assert denied_post.status_code == 403
    assert "Admins only" in denied_post.text
    assert await user_names(server) == ["viewer"]


async def test_first_run_page_creates_one_admin_then_disappears(server: LiveServer) -> None:
    async with client_for(server) as client:
        login = await client.get("/ui/login")
        assert 'href="/ui/setup"' in login.text
        page = await client.get("/ui/setup")
        assert page.status_code == 200
        form = {"username": "root", "password": PASSWORD, "confirm": PASSWORD}
        short = await client.post(
            "/ui/setup", data={**form, "password": "short", "csrf_token": csrf_token(page)}
        )
        assert short.status_code == 422
        created = await client.post("/ui/setup", data={**form, "csrf_token": csrf_token(page)})
        assert created.status_code == 303
        assert (await client.get("/ui/setup")).status_code == 404
        again = await client.post(
            "/ui/setup", data={**form, "username": "second", "csrf_token": csrf_token(page)}
        )
        assert again.status_code == 404
        assert (await log_in(client, "root")).status_code == 303
        assert 'href="/ui/users"' in (await client.get("/")).text  # an admin
    assert await user_names(server) == ["root"]


async def test_first_run_page_is_not_served_to_other_addresses(server: LiveServer) -> None:
    # A real connection from another address: the server listens on 127.0.0.1 only, and
    # 127.0.0.2 is a different client address on the loopback network.
    other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with client_for(server, transport=other) as client:
        page = await client.get("/ui/setup")
        login = await client.get("/ui/login")
    assert page.status_code == 404
    assert "tocsin user create" in login.text
    assert 'href="/ui/setup"' not in login.text
    async with client_for(server, headers={"X-Forwarded-For": "203.0.113.9"}) as proxied:
        assert (await proxied.get("/ui/setup")).status_code == 404
    assert await user_names(server) == []
