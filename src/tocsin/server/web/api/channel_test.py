"""``POST /api/v1/channels/{key}/test``: send a test alert through a channel now.

The alert goes through the channel's real sender, from this request and not through the
outbox (a test is never retried later), and the answer is the receiver's: delivered or
failed, the HTTP status or SMTP reply, the error, how long it took. Tests are not
recorded among the deliveries (see ``alerts.channel_trial``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tocsin.server.alerts.channel_trial import send_trial
from tocsin.server.alerts.channels import senders
from tocsin.server.storage.channels import get_channel
from tocsin.server.storage.shapes import ChannelTestOut
from tocsin.server.web.api.auth import AuthenticatedRoute, server_state
from tocsin.server.web.api.schemas import NOT_FOUND, WRITE_RESPONSES, usable_key

router = APIRouter(prefix="/channels", tags=["channels"], route_class=AuthenticatedRoute)


@router.post(
    "/{key}/test",
    response_model=ChannelTestOut,
    responses=NOT_FOUND | {403: WRITE_RESPONSES[403]},
)
async def test_channel(request: Request, key: str) -> ChannelTestOut:
    """Send a test alert through the channel (by uuid or name) and answer with what its
    receiver said. A failed delivery is still a 200: the failure is the answer."""
    usable_key(key, "channel")
    state = server_state(request)
    async with state.database.read() as conn:
        channel = await get_channel(conn, state.project.id, key)
    # The connection is given back before sending: a slow receiver holds no database.
    result = await send_trial(channel, senders(state.settings.smtp))
    return ChannelTestOut.of(result)
