"""The public JSON shape of stored objects, written once as Pydantic models.

The REST API answers with these models (they also make its OpenAPI schemas), and the
local backend of ``tocsin apply`` / ``tocsin status`` dumps the same models, so a monitor
looks the same whichever way it is read. Timestamps are ISO 8601 with ``+00:00``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.durations import format_duration
from tocsin.health.model import Status
from tocsin.server.domain.alert_policy import AlertPolicy
from tocsin.server.domain.confirmation import ConfirmationState, ConfirmPolicy, progress
from tocsin.server.domain.ping_urls import ping_url, slug_ping_url
from tocsin.server.domain.states import ManagedBy, MonitorKind, MonitorState
from tocsin.server.storage.flap_state import flap_statuses
from tocsin.server.storage.last_attempts import LastAttempt
from tocsin.server.storage.probe_reads import probe_views
from tocsin.server.storage.probe_rows import (
    ComponentStateRecord,
    HourRecord,
    ProbeView,
    ResultRecord,
    Tally,
)
from tocsin.server.storage.rows import ChannelRecord, FlipRecord, MonitorRecord, PingRecord

if TYPE_CHECKING:
    from tocsin.server.alerts.channel_trial import TrialResult
    from tocsin.server.storage.delivery_log import DeliveryRecord
    from tocsin.server.storage.projects import Project

Timestamp = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

_OUT = ConfigDict(frozen=True)

MASK = "********"


class OutcomeOut(BaseModel):
    """One assertion's outcome in a result, with the value it resolved to."""

    model_config = _OUT

    text: str = Field(description='the assertion, like "status == 200"')
    severity: str = Field(description="fail or warn: what a miss makes the result")
    passed: bool
    resolved: Any = Field(description="the value seen; null when missing or no answer")
    message: str = Field(description='what an alert says, like "status (503) == 200"')


class ReadingOut(BaseModel):
    """One component of an ``app`` monitor's health report, as judged in a result."""

    model_config = _OUT

    key: str = Field(description="component:measurement[componentId]")
    status: Status
    value: Any = Field(description="the report's observedValue")
    unit: str | None
    threshold: str | None = Field(description='the threshold that decided ("< 1"), if any')
    message: str


class ResultOut(BaseModel):
    """One probe result: the verdict and everything that explains it."""

    model_config = _OUT

    scheduled_at: Timestamp
    started_at: Timestamp
    verdict: Status = Field(description="pass, warn or fail")
    failure: str | None = Field(
        description="why there was no usable answer: dns, refused, timeout, tls, "
        "connection, protocol, too_large, redirects, config; null when there was one"
    )
    error: str | None
    status_code: int | None
    total_ms: float | None
    timings: dict[str, Any] = Field(
        description="dns_ms, connect_ms, tls_ms, first_byte_ms (null where a phase did not "
        "happen) and cert_not_after"
    )
    outcomes: list[OutcomeOut]
    components: list[ReadingOut]

    @classmethod
    def of(cls, result: ResultRecord) -> ResultOut:
        """The shape of ``result``."""
        return cls(
            scheduled_at=result.scheduled_at,
            started_at=result.started_at,
            verdict=result.verdict,
            failure=result.failure,
            error=result.error,
            status_code=result.status_code,
            total_ms=result.total_ms,
            timings=dict(result.timings),
            outcomes=[OutcomeOut(**o.to_json()) for o in result.outcomes],
            components=[
                ReadingOut(
                    key=c.key,
                    status=c.status,
                    value=c.value,
                    unit=c.unit,
                    threshold=c.threshold,
                    message=c.message,
                )
                for c in result.components
            ],
        )


class ComponentOut(BaseModel):
    """The current state of one component of an ``app`` monitor."""

    model_config = _OUT

    key: str = Field(description="component:measurement[componentId]")
    status: Status
    value: Any
    unit: str | None
    message: str | None
    changed_at: Timestamp = Field(description="when the status last changed")
    updated_at: Timestamp = Field(description="when the component was last read")

    @classmethod
    def of(cls, component: ComponentStateRecord) -> ComponentOut:
        """The shape of ``component``."""
        return cls(
            key=component.key,
            status=component.status,
            value=component.value,
            unit=component.unit,
            message=component.message,
            changed_at=component.changed_at,
            updated_at=component.updated_at,
        )


def _probe_settings(probe: Any, secrets: bool) -> dict[str, Any] | None:
    if probe is None:
        return None
    settings = dict(probe)
    if secrets:
        return settings
    if isinstance(settings.get("headers"), dict):
        settings["headers"] = dict.fromkeys(settings["headers"], MASK)
    if settings.get("body") is not None:
        settings["body"] = MASK
    if isinstance(settings.get("url"), str):
        settings["url"] = mask_probe_url(settings["url"])
    return settings


def mask_probe_url(url: str) -> str:
    """A probed ``url`` as readers without secrets see it: the scheme, host, port and path
    stay, so they see what is checked; a password and the query's values go."""
    parts = urlsplit(url)
    netloc = parts.netloc
    user, at, host = netloc.rpartition("@")
    if at and ":" in user:
        netloc = f"{user.partition(':')[0]}:{MASK}@{host}"
    query = "&".join(
        f"{name}={MASK}" if sep else name
        for name, sep, _ in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _confirmation(monitor: MonitorRecord) -> str | None:
    confirm = (monitor.probe or {}).get("confirm") or {}
    policy = ConfirmPolicy(int(confirm.get("fail", 2)), int(confirm.get("recover", 1)))
    verdict = Status(monitor.last_verdict) if monitor.last_verdict else None
    state = ConfirmationState(
        monitor.status.state, monitor.fail_streak, monitor.pass_streak, verdict
    )
    return progress(state, policy)


class MonitorOut(BaseModel):
    """A monitor as the API and ``tocsin status --json`` show it."""

    model_config = _OUT

    uuid: str
    name: str
    slug: str
    kind: MonitorKind
    desc: str
    tags: list[str]
    period: str | None = Field(description='readable, like "5m"; null for cron schedules')
    period_seconds: float | None
    cron: str | None
    timezone: str
    grace: str
    grace_seconds: float
    state: MonitorState
    last_ping_at: Timestamp | None
    last_start_at: Timestamp | None
    last_duration_seconds: float | None
    next_deadline: Timestamp | None = Field(description="when the state next changes by itself")
    n_pings: int
    ping_url: str
    channels: list[str]
    managed_by: ManagedBy
    created_at: Timestamp
    updated_at: Timestamp
    probe: dict[str, Any] | None = Field(
        None,
        description="http, app, tcp: the probe's settings (url, method, headers, body, "
        "timeout_seconds, assert, components, confirm, host, port, tls...); header values "
        "are masked for read-only keys. Null for heartbeats",
    )
    interval: str | None = Field(None, description='probed monitors: readable, like "30s"')
    interval_seconds: float | None = None
    retry_interval_seconds: float | None = None
    consecutive_failures: int | None = Field(None, description="probed monitors")
    consecutive_successes: int | None = Field(None, description="probed monitors")
    confirmation: str | None = Field(
        None,
        description='the running confirmation count, like "failing 1/2" or '
        '"recovering 1/3"; null when none is running',
    )
    last_result_at: Timestamp | None = None
    last_verdict: Status | None = None
    last_result: ResultOut | None = Field(
        None, description="probed monitors: the newest result, every assertion's outcome"
    )
    components: list[ComponentOut] | None = Field(
        None, description="app monitors: each component's current state; null for others"
    )
    flapping: bool = Field(
        False, description="changing state too often: alerts wait until it is stable"
    )
    flapping_since: Timestamp | None = Field(None, description="when it started flapping")
    alert_policy: dict[str, Any] = Field(
        default_factory=dict,
        description="notify_on_recovery, remind, escalate, flapping, depends_on as "
        "tocsin.yaml writes them (project defaults applied; off for what is off)",
    )

    @classmethod
    def of(
        cls,
        monitor: MonitorRecord,
        base_url: str,
        view: ProbeView | None = None,
        *,
        secrets: bool = True,
    ) -> MonitorOut:
        """The shape of ``monitor``; ``base_url`` makes its ping URL; ``view`` adds a probed
        monitor's newest result and components (see ``monitors_out``); ``secrets=False``
        masks header values, for read-only keys."""
        schedule = monitor.schedule
        status = monitor.status
        probed = monitor.kind.probed
        interval = monitor.interval_seconds
        last = view.last_result if view else None
        components = None
        if monitor.kind is MonitorKind.APP:
            components = [ComponentOut.of(c) for c in view.components] if view else []
        return cls(
            probe=_probe_settings(monitor.probe, secrets) if probed else None,
            interval=format_duration(timedelta(seconds=interval)) if interval else None,
            interval_seconds=interval,
            retry_interval_seconds=monitor.retry_interval_seconds,
            consecutive_failures=monitor.fail_streak if probed else None,
            consecutive_successes=monitor.pass_streak if probed else None,
            confirmation=_confirmation(monitor) if probed else None,
            last_result_at=monitor.last_result_at,
            last_verdict=Status(monitor.last_verdict) if monitor.last_verdict else None,
            last_result=ResultOut.of(last) if last else None,
            components=components,
            alert_policy=shown_policy(monitor.alert_policy),
            uuid=monitor.uuid,
            name=monitor.name,
            slug=monitor.slug,
            kind=monitor.kind,
            desc=monitor.desc,
            tags=list(monitor.tags),
            period=format_duration(schedule.period) if schedule.period else None,
            period_seconds=schedule.period.total_seconds() if schedule.period else None,
            cron=schedule.cron,
            timezone=schedule.timezone,
            grace=format_duration(schedule.grace),
            grace_seconds=schedule.grace.total_seconds(),
            state=status.state,
            last_ping_at=status.last_ping_at,
            last_start_at=status.last_start_at,
            last_duration_seconds=monitor.last_duration_seconds,
            next_deadline=status.next_deadline,
            n_pings=monitor.n_pings,
            ping_url=ping_url(base_url, monitor.uuid),
            channels=list(monitor.channels),
            managed_by=monitor.managed_by,
            created_at=monitor.created_at,
            updated_at=monitor.updated_at,
        )


def shown_policy(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """A monitor's alert policy as the API shows it: every key but channels (the
    monitor's own field), the defaults filled in for a monitor without a policy."""
    shown = AlertPolicy.from_json(stored or {}).to_json()
    del shown["channels"]
    return shown


def mask_url(kind: str, url: str) -> str:
    """``url`` of a ``kind`` channel as readers without secrets see it."""
    parts = urlsplit(url)
    if kind == "apprise":
        # Apprise URLs put tokens anywhere, the host part included (tgram://TOKEN/):
        # only the service shows.
        return f"{parts.scheme}://{MASK}"
    hidden = bool(parts.path.strip("/") or parts.query or parts.fragment)
    # The host and port stay, to show where alerts go; user:password@ goes.
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}/" + (MASK if hidden else "")


def _masked_settings(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    masked = dict(settings)
    if isinstance(masked.get("headers"), dict):
        masked["headers"] = dict.fromkeys(masked["headers"], MASK)
    if masked.get("secret"):
        masked["secret"] = MASK
    url = masked.get("url")
    if isinstance(url, str):
        masked["url"] = mask_url(kind, url)
    return masked


class ChannelAttemptOut(BaseModel):
    """A channel's newest delivery attempt."""

    model_config = _OUT

    at: Timestamp = Field(description="when the attempt started")
    outcome: str = Field(
        description="delivered, retry (tried again later) or failed (given up: a permanent "
        "error such as a 4xx answer, a redirect or refused credentials)"
    )
    status: int | None = Field(
        description="the receiver's HTTP status, or the SMTP reply code for email; "
        "null when there was no answer"
    )
    error: str | None = Field(
        description="why it was not delivered; URLs and channel secrets masked for read-only keys"
    )


class ChannelOut(BaseModel):
    """A channel as the API shows it, with its settings (null where a kind has none) and
    its newest delivery attempt."""

    model_config = _OUT

    uuid: str
    name: str
    kind: str
    url: str | None = Field(
        None, description="webhook, slack, discord: where alerts are POSTed; apprise: its URL"
    )
    to: list[str] | None = Field(None, description="email: the addresses alerts go to")
    headers: dict[str, str] | None = Field(None, description="webhook: extra request headers")
    secret: str | None = Field(None, description="webhook: the key requests are signed with")
    timeout: float | None = Field(None, description="seconds")
    managed_by: ManagedBy
    created_at: Timestamp
    updated_at: Timestamp
    last_attempt: ChannelAttemptOut | None = Field(
        None,
        description="the newest attempt to deliver an alert here (null before the first): "
        "`failed` with its error says the channel needs fixing",
    )

    @classmethod
    def of(
        cls, channel: ChannelRecord, *, secrets: bool = True, last: LastAttempt | None = None
    ) -> ChannelOut:
        """The shape of ``channel`` with ``last``, its newest delivery attempt;
        ``secrets=False`` masks what could be a credential (a webhook's secret and header
        values, the URL's path and query, where services such as Slack and Discord put
        their tokens, and all of an Apprise URL but its scheme, and the same in the
        attempt's error) for readers that may not change it."""
        settings = channel.settings if secrets else _masked_settings(channel.kind, channel.settings)
        attempt = None
        if last is not None:
            error = last.error
            if error is not None and not secrets:
                error = mask_error(channel.kind, dict(channel.settings), error)
            attempt = ChannelAttemptOut(
                at=last.started_at, outcome=last.outcome, status=last.http_status, error=error
            )
        return cls(
            uuid=channel.uuid,
            name=channel.name,
            kind=channel.kind,
            url=settings.get("url"),
            to=settings.get("to"),
            headers=settings.get("headers"),
            secret=settings.get("secret"),
            timeout=settings.get("timeout"),
            managed_by=channel.managed_by,
            created_at=channel.created_at,
            updated_at=channel.updated_at,
            last_attempt=attempt,
        )


class PingOut(BaseModel):
    """A received ping."""

    model_config = _OUT

    n: int = Field(description="the monitor's ping number, counting from 1")
    created_at: Timestamp
    kind: str
    exit_status: int | None
    rid: str | None
    duration_seconds: float | None
    method: str
    scheme: str
    remote_addr: str | None
    user_agent: str | None
    body: str | None
    body_size: int

    @classmethod
    def of(cls, ping: PingRecord) -> PingOut:
        """The shape of ``ping``."""
        return cls(
            n=ping.n,
            created_at=ping.created_at,
            kind=ping.kind,
            exit_status=ping.exit_status,
            rid=ping.rid,
            duration_seconds=ping.duration_seconds,
            method=ping.method,
            scheme=ping.scheme,
            remote_addr=ping.remote_addr,
            user_agent=ping.user_agent,
            body=ping.body,
            body_size=ping.body_size,
        )


class FlipOut(BaseModel):
    """A state change and its cause."""

    model_config = _OUT

    created_at: Timestamp
    old_state: str
    new_state: str
    cause: str

    @classmethod
    def of(cls, flip: FlipRecord) -> FlipOut:
        """The shape of ``flip``."""
        return cls(
            created_at=flip.created_at,
            old_state=flip.old_state,
            new_state=flip.new_state,
            cause=flip.cause,
        )


def as_json(model: BaseModel) -> dict[str, Any]:
    """``model`` as plain JSON data, exactly as the API sends it."""
    data: dict[str, Any] = model.model_dump(mode="json")
    return data


async def monitors_out(
    conn: AsyncConnection,
    monitors: Sequence[MonitorRecord],
    base_url: str,
    *,
    secrets: bool = True,
    now: datetime | None = None,
) -> list[MonitorOut]:
    """The shapes of ``monitors``, with each probed one's newest result and components
    and whether each is flapping at ``now`` (three queries for the lot)."""
    views = await probe_views(conn, [m.id for m in monitors if m.kind.probed])
    policies = {m.id: AlertPolicy.from_json(m.alert_policy or {}).flapping for m in monitors}
    on = {monitor_id: policy for monitor_id, policy in policies.items() if policy is not None}
    flapping = await conn.run_sync(flap_statuses, on, now or datetime.now(UTC))
    shown = []
    for m in monitors:
        out = MonitorOut.of(m, base_url, views.get(m.id), secrets=secrets)
        status = flapping.get(m.id)
        if status is not None:
            out = out.model_copy(update={"flapping": True, "flapping_since": status.since})
        shown.append(out)
    return shown


class UptimeOut(BaseModel):
    """Checks and failures over one window; ``warn`` results count as up."""

    model_config = _OUT

    window: str = Field(description="24h, 7d or 30d")
    uptime_percent: float | None = Field(description="100 * (1 - failures / checks); null: none")
    checks: int
    failures: int
    warnings: int

    @classmethod
    def of(cls, window: str, tally: Tally) -> UptimeOut:
        """The shape of ``tally`` over ``window``."""
        return cls(
            window=window,
            uptime_percent=tally.uptime_percent,
            checks=tally.count,
            failures=tally.failures,
            warnings=tally.warnings,
        )


class HourOut(BaseModel):
    """One hour's aggregate of a monitor or of one of its components."""

    model_config = _OUT

    hour: Timestamp = Field(description="the top of the hour")
    checks: int
    failures: int
    warnings: int
    p50_ms: float | None = Field(description="median response time (monitors)")
    p95_ms: float | None
    max_ms: float | None
    value_min: float | None = Field(description="components: the lowest numeric value")
    value_max: float | None
    value_last: float | None

    @classmethod
    def of(cls, hour: HourRecord) -> HourOut:
        """The shape of ``hour``."""
        return cls(
            hour=hour.hour,
            checks=hour.count,
            failures=hour.failures,
            warnings=hour.warnings,
            p50_ms=hour.latency_p50,
            p95_ms=hour.latency_p95,
            max_ms=hour.latency_max,
            value_min=hour.value_min,
            value_max=hour.value_max,
            value_last=hour.value_last,
        )


# Anything URL-like in an error text (receivers and libraries quote URLs in errors), up
# to white space, quotes or brackets, and without the punctuation of the sentence after it.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,:;!?)]")
# Shorter header values would mask ordinary words of an error text.
_SECRET_MIN_CHARS = 4


def mask_error(kind: str, settings: dict[str, Any], text: str) -> str:
    """An error text of a ``kind`` channel as readers without secrets see it: the
    channel's secret and header values replaced, every URL masked as its URL is."""
    headers = settings.get("headers")
    secrets = [settings.get("secret"), *(headers.values() if isinstance(headers, dict) else ())]
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= _SECRET_MIN_CHARS:
            text = text.replace(secret, MASK)
    return _URL_IN_TEXT.sub(lambda found: mask_url(kind, found.group()), text)


class DeliveryAttemptOut(BaseModel):
    """One attempt to deliver an alert, as ``GET /deliveries`` and ``tocsin deliveries``
    show it."""

    model_config = _OUT

    id: int
    at: Timestamp = Field(description="when the attempt started")
    channel: str = Field(description="the channel's name")
    channel_uuid: str
    channel_kind: str
    monitor: str = Field(description="the monitor's name")
    monitor_uuid: str
    notification_id: int = Field(description="the alert: its attempts share this id")
    kind: str = Field(description="what the alert said: down or up")
    attempt: int = Field(description="1 for the first attempt of the alert, 2 for its retry...")
    outcome: str = Field(description="delivered, retry (tried again later) or failed (given up)")
    status: int | None = Field(
        description="the receiver's HTTP status, or the SMTP reply code for email; "
        "null when there was no answer"
    )
    duration_ms: int
    error: str | None = Field(
        description="why it was not delivered; URLs and channel secrets masked for read-only keys"
    )

    @classmethod
    def of(cls, record: DeliveryRecord, *, secrets: bool = True) -> DeliveryAttemptOut:
        """The shape of ``record``; ``secrets=False`` masks its error text."""
        error = record.error
        if error is not None and not secrets:
            error = mask_error(record.channel_kind, record.channel_settings, error)
        return cls(
            id=record.id,
            at=record.started_at,
            channel=record.channel_name,
            channel_uuid=record.channel_uuid,
            channel_kind=record.channel_kind,
            monitor=record.monitor_name,
            monitor_uuid=record.monitor_uuid,
            notification_id=record.notification_id,
            kind=record.kind,
            attempt=record.attempt,
            outcome=record.outcome.value,
            status=record.http_status,
            duration_ms=record.duration_ms,
            error=error,
        )


class DeliveryPage(BaseModel):
    """``GET /deliveries``: a page of delivery attempts, newest first."""

    deliveries: list[DeliveryAttemptOut]
    next: str | None = Field(
        description="the next page's URL (also in the `Link` header); null on the last page"
    )


class ChannelTestOut(BaseModel):
    """``POST /channels/{key}/test`` and ``tocsin channel test``: the receiver's answer
    to a test alert."""

    model_config = _OUT

    channel: str = Field(description="the channel's name")
    channel_uuid: str
    channel_kind: str
    outcome: str = Field(description="delivered or failed")
    status: int | None = Field(
        description="the receiver's HTTP status, or the SMTP reply code for email; "
        "null when there was no answer"
    )
    error: str | None = Field(description="why it was not delivered")
    permanent: bool | None = Field(
        description="when it failed: true if a real alert would not be retried "
        "(other 4xx, bad credentials), false if it would be; null when delivered"
    )
    duration_ms: int
    sent_at: Timestamp

    @classmethod
    def of(cls, result: TrialResult) -> ChannelTestOut:
        """The shape of ``result``."""
        return cls(
            channel=result.channel.name,
            channel_uuid=result.channel.uuid,
            channel_kind=result.channel.kind,
            outcome="delivered" if result.delivered else "failed",
            status=result.status,
            error=result.error,
            permanent=result.permanent,
            duration_ms=result.duration_ms,
            sent_at=result.sent_at,
        )


class ProjectOut(BaseModel):
    """``GET /api/v1/project`` and ``tocsin status``: what slug ping URLs need."""

    model_config = _OUT

    name: str
    ping_key: str = Field(description="the key in slug ping URLs; anyone holding it may ping")
    slug_ping_url: str = Field(
        description="the slug ping URL with `{slug}` standing for a monitor's slug"
    )

    @classmethod
    def of(cls, project: Project, base_url: str) -> ProjectOut:
        """The shape of ``project`` served at ``base_url``."""
        return cls(
            name=project.name,
            ping_key=project.ping_key,
            slug_ping_url=slug_ping_url(base_url, project.ping_key, "{slug}"),
        )


PublicStateText = Literal["up", "degraded", "down", "paused", "unknown"]


class PublicUptimeOut(BaseModel):
    """An item's uptime in percent per window; null where nothing was counted (a figure
    below 100 is never rounded up to 100)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    last_24h: float | None = Field(alias="24h", description="the last 24 hours")
    last_7d: float | None = Field(alias="7d", description="the last 7 UTC days, today included")
    last_30d: float | None = Field(alias="30d", description="the last 30 UTC days")
    last_90d: float | None = Field(alias="90d", description="the last 90 UTC days (the bars)")


class PublicItemOut(BaseModel):
    """One line of a public status page."""

    model_config = _OUT

    name: str = Field(description="the name the page gives it (never the monitor's own)")
    state: PublicStateText
    uptime: PublicUptimeOut


class PublicIncidentOut(BaseModel):
    """An open incident on a public status page: which items, since when; never its cause."""

    model_config = _OUT

    items: list[str] = Field(description="the public names of the items it touches")
    since: Timestamp


class StatusPagePublicOut(BaseModel):
    """``GET /status/{slug}.json``: what a status page shows, for anyone (no key)."""

    model_config = _OUT

    title: str
    status: PublicStateText = Field(description="all items together (paused ones aside)")
    summary: str = Field(description='the sentence atop the page, e.g. "Partial outage"')
    updated_at: Timestamp = Field(description="the minute the page was computed as of")
    items: list[PublicItemOut]
    incidents: list[PublicIncidentOut] = Field(description="open incidents, newest first")


class StatusItemOut(BaseModel):
    """What a status page shows on one line: a monitor, or one component of an app monitor."""

    model_config = _OUT

    position: int = Field(description="1 for the first line")
    monitor: str = Field(description="the monitor's name (not shown publicly)")
    monitor_uuid: str
    component: str | None = Field(description="the component's key; null: the whole monitor")
    name: str = Field(description="the public name the page shows")


class StatusPageOut(BaseModel):
    """A status page, as its admins see it."""

    model_config = _OUT

    slug: str = Field(description="its address: /status/{slug}")
    title: str
    url: str = Field(description="the public page")
    json_url: str = Field(description="the public page as JSON")
    updated_at: Timestamp = Field(description="when the page or its items last changed")
    items: list[StatusItemOut]
