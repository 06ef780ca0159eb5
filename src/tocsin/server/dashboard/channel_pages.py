"""The channel pages: the list, a channel with its delivery log, and (admins) adding,
testing and deleting channels.

The delivery log is also served alone (``/ui/channels/<uuid>/log``) for htmx to poll
every 5 seconds. A test alert goes through ``channel_trial.send_trial``, as
``tocsin channel test`` and the API's ``POST /channels/{key}/test`` do; htmx shows the
answer in place, and without script the page comes back with it. Targets and error
texts are always masked (see ``channel_views``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from tocsin.errors import ConflictError, NotFoundError, ValidationError
from tocsin.server.alerts.channel_trial import send_trial
from tocsin.server.alerts.channels import senders
from tocsin.server.dashboard.auth import Admin, CurrentUser, PageError, Viewer
from tocsin.server.dashboard.channel_views import (
    TestAnswer,
    blank_form,
    channel_row,
    description,
    echoed,
    log_row,
    target,
    test_answer,
)
from tocsin.server.dashboard.forms import read_form
from tocsin.server.dashboard.pages import render, see_other
from tocsin.server.domain.channel_spec import CHANNEL_KINDS, KIND_SETTINGS, channel_spec
from tocsin.server.domain.storable import is_storable
from tocsin.server.storage.channels import (
    create_channel,
    delete_channel,
    get_channel,
    list_channels,
)
from tocsin.server.storage.delivery_log import list_deliveries
from tocsin.server.storage.last_attempts import last_attempts
from tocsin.server.storage.rows import ChannelRecord
from tocsin.server.web.api.auth import server_state
from tocsin.server.web.api.schemas import usable_key, validated

PAGE_SIZE = 50  # channels a page, and delivery attempts a page of the log

router = APIRouter(include_in_schema=False)


async def find_channel(request: Request, key: str) -> ChannelRecord:
    """The channel with uuid ``key``, or a 404 page."""
    state = server_state(request)
    try:
        async with state.database.read() as conn:
            channel = await get_channel(conn, state.project.id, usable_key(key, "channel"))
    except NotFoundError as exc:
        raise PageError(404, "Not found", "There is no such channel.") from exc
    if channel.uuid != key.lower():  # the dashboard addresses channels by uuid only
        raise PageError(404, "Not found", "There is no such channel.")
    return channel


def _before(request: Request) -> int | None:
    text = request.query_params.get("before", "")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise PageError(400, "Bad request", "'before' must be a delivery attempt's id.")
    return int(text)


@router.get("/ui/channels")
async def channels_page(request: Request, current: Viewer) -> Response:
    """Every channel by name with its masked target and newest delivery attempt;
    ``after`` (a channel name) is the keyset cursor of the next page."""
    after = request.query_params.get("after") or None
    if after is not None and not is_storable(after):
        raise PageError(400, "Bad request", "'after' must be a channel's name.")
    state = server_state(request)
    async with state.database.read() as conn:
        found = await list_channels(conn, state.project.id, after=after, limit=PAGE_SIZE + 1)
        page = found[:PAGE_SIZE]
        last = await last_attempts(conn, [channel.id for channel in page])
    return render(
        request,
        "channels.html",
        current=current,
        rows=[channel_row(channel, last.get(channel.id)) for channel in page],
        next_page=urlencode({"after": page[-1].name}) if len(found) > PAGE_SIZE else None,
        paged=after is not None,
    )


def _form_page(
    request: Request,
    current: CurrentUser,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    # A problem under no field of the form (an item, "to[1]") goes with its field or on top.
    by_field: dict[str, str] = {}
    general: list[str] = []
    for key, text in errors.items():
        field = key.split("[")[0].split(".")[0]
        if field in values:
            by_field[field] = text if field == key else f"{key}: {text}"
        else:
            general.append(f"{key}: {text}")
    return render(
        request,
        "channel_form.html",
        current=current,
        status=status,
        values=values,
        errors=by_field,
        general_errors=general,
        kinds=CHANNEL_KINDS,
        takes={kind: sorted(fields) for kind, fields in KIND_SETTINGS.items()},
        kept_back=bool(errors),
    )


@router.get("/ui/channels/new")
async def new_page(request: Request, current: Admin) -> Response:
    """The empty form for a new channel."""
    return _form_page(request, current, blank_form(), {})


@router.post("/ui/channels/new")
async def create(request: Request, current: Admin) -> Response:
    """Create the channel the form describes (validated by ``channel_spec``), then show it."""
    form = await read_form(request)
    data, problems = description(form)
    state = server_state(request)
    try:
        spec = validated("channel", problems, lambda: channel_spec(data))
        async with state.database.write() as conn:
            channel = await create_channel(conn, state.project.id, spec, datetime.now(UTC))
    except ValidationError as exc:
        return _form_page(request, current, echoed(form), exc.fields, status=422)
    except ConflictError as exc:
        return _form_page(request, current, echoed(form), {"name": str(exc)}, status=409)
    return see_other(f"/ui/channels/{channel.uuid}")


async def _log(request: Request, channel: ChannelRecord) -> dict[str, Any]:
    before = _before(request)
    state = server_state(request)
    async with state.database.read() as conn:
        found = await list_deliveries(
            conn, state.project.id, channel_id=channel.id, before_id=before, limit=PAGE_SIZE + 1
        )
    page = found[:PAGE_SIZE]
    return {
        "channel": channel,
        "attempts": [log_row(record) for record in page],
        "older": urlencode({"before": page[-1].id}) if len(found) > PAGE_SIZE else None,
        "this_page": urlencode({"before": before}) if before is not None else "",
        "paged": before is not None,
    }


async def _detail(
    request: Request,
    channel: ChannelRecord,
    current: CurrentUser,
    answer: TestAnswer | None = None,
) -> Response:
    headers = channel.settings.get("headers")
    return render(
        request,
        "channel_detail.html",
        current=current,
        target=target(channel),
        header_names=sorted(headers) if isinstance(headers, dict) else [],
        signed=bool(channel.settings.get("secret")),
        test=answer,
        **await _log(request, channel),
    )


@router.get("/ui/channels/{key}")
async def detail(request: Request, key: str, current: Viewer) -> Response:
    """One channel: where its alerts go (masked), and its delivery log."""
    return await _detail(request, await find_channel(request, key), current)


@router.get("/ui/channels/{key}/log")
async def log(request: Request, key: str, current: Viewer) -> Response:
    """The channel's delivery log alone, for htmx to poll."""
    channel = await find_channel(request, key)
    return render(
        request, "partials/channel_log.html", current=current, **await _log(request, channel)
    )


@router.post("/ui/channels/{key}/test")
async def send_test(request: Request, key: str, current: Admin) -> Response:
    """Send a test alert through the channel now and show the receiver's answer."""
    channel = await find_channel(request, key)
    state = server_state(request)
    answer = test_answer(await send_trial(channel, senders(state.settings.smtp)))
    if request.headers.get("hx-request"):
        return render(request, "partials/channel_test_result.html", current=current, test=answer)
    return await _detail(request, channel, current, answer)


@router.get("/ui/channels/{key}/delete")
async def delete_page(request: Request, key: str, current: Admin) -> Response:
    """Ask before deleting."""
    channel = await find_channel(request, key)
    return render(request, "channel_delete.html", current=current, channel=channel)


@router.post("/ui/channels/{key}/delete")
async def delete(request: Request, key: str, current: Admin) -> Response:
    """Delete the channel (monitors that used it stop alerting there), then list the rest."""
    channel = await find_channel(request, key)
    state = server_state(request)
    try:
        async with state.database.write() as conn:
            await delete_channel(conn, state.project.id, channel.uuid)
    except NotFoundError:
        pass  # deleted meanwhile: the outcome the user asked for
    return see_other("/ui/channels")
