"""Where ``tocsin apply`` and ``tocsin status`` read and write: the database or a server.

A ``Backend`` opens a ``BackendSession`` with list/create/update/delete for monitors and
channels, all speaking the JSON shapes of the REST API (``storage.shapes``; lists are
whole: the remote backend follows the API's pages). ``LocalBackend`` runs the storage
functions inside one database transaction, so a failing apply applies nothing.
``RemoteBackend`` calls the REST API v1 with an API key; HTTP errors are translated into
``TocsinError``s here and nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from tocsin.errors import ConflictError, NotFoundError, TocsinError, ValidationError
from tocsin.server.domain.maintenance import MaintenanceWindow
from tocsin.server.domain.spec import CHANNEL_FIELDS, ChannelSpec, MonitorSpec
from tocsin.server.domain.states import ManagedBy

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncConnection

    from tocsin.server.storage.database import Database
    from tocsin.server.storage.last_attempts import LastAttempt
    from tocsin.server.storage.rows import ChannelRecord, MonitorRecord
    from tocsin.settings import SmtpSettings

Json = dict[str, Any]

# Items per page when reading a whole list from a server (the API's maximum).
PAGE_SIZE = 1000


class BackendSession(Protocol):
    """Monitors and channels as JSON dicts, within one session (a transaction, locally)."""

    async def list_channels(self) -> list[Json]:
        """Every channel, by name."""
        ...

    async def list_monitors(self) -> list[Json]:
        """Every monitor, by name."""
        ...

    async def create_channel(self, spec: ChannelSpec) -> Json:
        """Create a channel owned by config."""
        ...

    async def update_channel(self, key: str, spec: ChannelSpec) -> Json:
        """Replace channel ``key``'s settings (it becomes owned by config)."""
        ...

    async def delete_channel(self, key: str) -> None:
        """Delete channel ``key``."""
        ...

    async def create_monitor(self, spec: MonitorSpec) -> Json:
        """Create a monitor owned by config."""
        ...

    async def update_monitor(self, key: str, spec: MonitorSpec) -> Json:
        """Replace monitor ``key``'s settings (it becomes owned by config)."""
        ...

    async def delete_monitor(self, key: str) -> None:
        """Delete monitor ``key``."""
        ...

    async def list_maintenance(self) -> list[Json]:
        """Every maintenance window in its config form, with ``uuid`` set to its name."""
        ...

    async def put_maintenance(self, window: MaintenanceWindow) -> None:
        """Create or replace the maintenance window named ``window.name``."""
        ...

    async def delete_maintenance(self, name: str) -> None:
        """Delete the maintenance window ``name``."""
        ...


class Backend(Protocol):
    """Opens sessions. ``atomic``: a failed apply leaves everything unchanged.
    ``marks_ownership``: objects it creates or updates are marked ``managed_by=config``."""

    atomic: bool
    marks_ownership: bool
    where: str

    def session(self, *, write: bool) -> AbstractAsyncContextManager[BackendSession]:
        """A session; with ``write``, changes made in it are kept when it ends cleanly."""
        ...

    async def test_channel(self, key: str) -> Json:
        """Send a test alert through channel ``key`` now; the receiver's answer
        (``ChannelTestOut``)."""
        ...

    async def list_deliveries(
        self, *, channel: str | None = None, monitor: str | None = None, limit: int = 50
    ) -> list[Json]:
        """The newest ``limit`` delivery attempts (``DeliveryAttemptOut``), optionally of
        one channel and/or monitor (uuid or name)."""
        ...

    async def project(self) -> Json:
        """The project's name, ping key and slug ping URL pattern (``ProjectOut``)."""
        ...

    async def list_incidents(self, *, open_only: bool = False, limit: int = 50) -> list[Json]:
        """The newest ``limit`` incidents (``IncidentOut``), or only the open ones."""
        ...

    async def silence(self, monitor: str, for_: str | None, until: str | None) -> Json:
        """Silence ``monitor`` for a duration or until an ISO time (``HoldOut``)."""
        ...

    async def unsilence(self, monitor: str) -> None:
        """End ``monitor``'s silences now."""
        ...


class _LocalSession:
    """Storage calls on one connection (and so one transaction)."""

    def __init__(self, conn: AsyncConnection, project_id: int, base_url: str) -> None:
        self.conn = conn
        self.project_id = project_id
        self.base_url = base_url

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC)

    def _monitor_json(self, record: MonitorRecord) -> Json:
        from tocsin.server.storage.shapes import MonitorOut, as_json

        return as_json(MonitorOut.of(record, self.base_url))

    async def list_channels(self) -> list[Json]:
        from tocsin.server.storage import channels
        from tocsin.server.storage.last_attempts import last_attempts

        records = await channels.list_channels(self.conn, self.project_id)
        last = await last_attempts(self.conn, [record.id for record in records])
        return [_channel_json(record, last.get(record.id)) for record in records]

    async def list_monitors(self) -> list[Json]:
        from tocsin.server.storage import monitors
        from tocsin.server.storage.shapes import as_json, monitors_out

        records = await monitors.list_monitors(self.conn, self.project_id)
        shown = await monitors_out(self.conn, records, self.base_url)
        return [as_json(monitor) for monitor in shown]

    async def create_channel(self, spec: ChannelSpec) -> Json:
        from tocsin.server.storage import channels

        record = await channels.create_channel(
            self.conn, self.project_id, spec, self._now(), ManagedBy.CONFIG
        )
        return _channel_json(record)

    async def update_channel(self, key: str, spec: ChannelSpec) -> Json:
        from tocsin.server.storage import channels

        record = await channels.update_channel(
            self.conn, self.project_id, key, spec, self._now(), ManagedBy.CONFIG
        )
        return _channel_json(record)

    async def delete_channel(self, key: str) -> None:
        from tocsin.server.storage import channels

        await channels.delete_channel(self.conn, self.project_id, key)

    async def create_monitor(self, spec: MonitorSpec) -> Json:
        from tocsin.server.storage import monitors

        record = await monitors.create_monitor(
            self.conn, self.project_id, spec, self._now(), ManagedBy.CONFIG
        )
        return self._monitor_json(record)

    async def update_monitor(self, key: str, spec: MonitorSpec) -> Json:
        from tocsin.server.storage import monitors

        record = await monitors.update_monitor(
            self.conn, self.project_id, key, spec, self._now(), ManagedBy.CONFIG
        )
        return self._monitor_json(record)

    async def delete_monitor(self, key: str) -> None:
        from tocsin.server.storage import monitors

        await monitors.delete_monitor(self.conn, self.project_id, key)

    async def list_maintenance(self) -> list[Json]:
        from tocsin.server.storage.holds import HoldKind, list_holds

        found = await list_holds(self.conn, self.project_id, self._now(), HoldKind.MAINTENANCE)
        return [window_json(record.window or {}) for record in found]

    async def put_maintenance(self, window: MaintenanceWindow) -> None:
        from tocsin.server.storage.holds import put_window

        await put_window(self.conn, self.project_id, window, self._now(), ManagedBy.CONFIG)

    async def delete_maintenance(self, name: str) -> None:
        from tocsin.server.storage.holds import delete_window

        await delete_window(self.conn, self.project_id, name)


def window_json(window: Json) -> Json:
    """A stored window as sessions list it: its config form, keyed by name."""
    return {**window, "uuid": window.get("name")}


def _channel_json(record: ChannelRecord, last: LastAttempt | None = None) -> Json:
    from tocsin.server.storage.shapes import ChannelOut, as_json

    return as_json(ChannelOut.of(record, last=last))


class LocalBackend:
    """The database the server uses, reached directly (no API key needed). ``smtp`` is
    the server's SMTP settings: a channel test sends email from this process with them."""

    atomic = True
    marks_ownership = True

    def __init__(
        self, database: Database, base_url: str, *, smtp: SmtpSettings | None = None
    ) -> None:
        self.database = database
        self.base_url = base_url.rstrip("/")
        self.smtp = smtp
        self.where = "the local database"

    @asynccontextmanager
    async def session(self, *, write: bool) -> AsyncIterator[BackendSession]:
        """One transaction: committed when the block ends cleanly with ``write``."""
        from sqlalchemy.exc import SQLAlchemyError

        from tocsin.server.storage.projects import default_project

        opener = self.database.write() if write else self.database.read()
        try:
            async with opener as conn:
                project = await default_project(conn)
                yield _LocalSession(conn, project.id, self.base_url)
        except (SQLAlchemyError, OSError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise TocsinError(f"cannot use the database: {reason}") from exc

    async def test_channel(self, key: str) -> Json:
        """Send the test from this process, with the same sender code as the server."""
        from tocsin.server.alerts.channel_trial import send_trial
        from tocsin.server.alerts.channels import senders
        from tocsin.server.storage.channels import get_channel
        from tocsin.server.storage.shapes import ChannelTestOut, as_json

        async with self.session(write=False) as session:
            assert isinstance(session, _LocalSession)
            channel = await get_channel(session.conn, session.project_id, key)
        return as_json(ChannelTestOut.of(await send_trial(channel, senders(self.smtp))))

    async def list_deliveries(
        self, *, channel: str | None = None, monitor: str | None = None, limit: int = 50
    ) -> list[Json]:
        """The attempts with their error texts unmasked: whoever can read the database
        can read the channels' settings anyway."""
        from tocsin.server.storage import channels, delivery_log, monitors
        from tocsin.server.storage.shapes import DeliveryAttemptOut, as_json

        async with self.session(write=False) as session:
            assert isinstance(session, _LocalSession)
            conn, project_id = session.conn, session.project_id
            channel_id = monitor_id = None
            if channel is not None:
                channel_id = (await channels.get_channel(conn, project_id, channel)).id
            if monitor is not None:
                monitor_id = (await monitors.get_monitor(conn, project_id, monitor)).id
            found = await delivery_log.list_deliveries(
                conn, project_id, channel_id=channel_id, monitor_id=monitor_id, limit=limit
            )
        return [as_json(DeliveryAttemptOut.of(record)) for record in found]

    async def project(self) -> Json:
        """The default project, with slug ping URLs on the settings' base URL."""
        from tocsin.server.storage.projects import default_project
        from tocsin.server.storage.shapes import ProjectOut, as_json

        async with self.session(write=False) as session:
            assert isinstance(session, _LocalSession)
            found = await default_project(session.conn)
        return as_json(ProjectOut.of(found, self.base_url))

    async def list_incidents(self, *, open_only: bool = False, limit: int = 50) -> list[Json]:
        """The newest incidents, as the API shows them."""
        from tocsin.server.storage.incidents import list_incidents
        from tocsin.server.storage.shapes import as_json
        from tocsin.server.web.api.incidents import IncidentOut

        async with self.session(write=False) as session:
            assert isinstance(session, _LocalSession)
            found = await list_incidents(
                session.conn, session.project_id, open_only=open_only, limit=limit
            )
        now = datetime.now(UTC)
        return [as_json(IncidentOut.of(record, now)) for record in found]

    async def silence(self, monitor: str, for_: str | None, until: str | None) -> Json:
        """Validated as the API does; a running server holds the alerts from its next
        decision on."""
        from tocsin.server.storage.holds import create_silence
        from tocsin.server.storage.monitors import get_monitor
        from tocsin.server.storage.shapes import as_json
        from tocsin.server.web.api.holds import HoldOut, SilenceIn, silence_until

        body = SilenceIn.model_validate({"monitor": monitor, "for": for_, "until": until})
        now = datetime.now(UTC)
        end = silence_until(body, now)
        async with self.session(write=True) as session:
            assert isinstance(session, _LocalSession)
            record = await get_monitor(session.conn, session.project_id, monitor)
            key = await create_silence(session.conn, session.project_id, record.id, now, end)
        return as_json(HoldOut.silence(key, record.name, now, end))

    async def unsilence(self, monitor: str) -> None:
        """What the silences held goes out at the server's next policy pass (within its
        reload time)."""
        from tocsin.server.storage.holds import end_silences
        from tocsin.server.storage.monitors import get_monitor
        from tocsin.server.storage.policy_state import wake_now

        async with self.session(write=True) as session:
            assert isinstance(session, _LocalSession)
            record = await get_monitor(session.conn, session.project_id, monitor)
            if not await end_silences(session.conn, session.project_id, record.id):
                raise NotFoundError(f"{record.name} is not silenced")
            await session.conn.run_sync(wake_now, [record.id], datetime.now(UTC))


def monitor_body(spec: MonitorSpec) -> Json:
    """The REST API body for ``spec`` (every field, so a PATCH replaces them all)."""
    policy = spec.policy.to_json() if spec.policy else {}
    policy.pop("channels", None)
    return _monitor_fields(spec) | policy


def _monitor_fields(spec: MonitorSpec) -> Json:
    schedule = spec.schedule
    if spec.probe is not None:
        return {
            "name": spec.name,
            "kind": spec.kind.value,
            "slug": spec.slug,
            "desc": spec.desc,
            "tags": list(spec.tags),
            "channels": list(spec.channels),
            "managed_by": ManagedBy.CONFIG.value,
            **spec.probe.user_fields(),
        }
    return {
        "name": spec.name,
        "kind": spec.kind.value,
        "period": schedule.period.total_seconds() if schedule.period else None,
        "grace": schedule.grace.total_seconds(),
        "cron": schedule.cron,
        "timezone": schedule.timezone if schedule.cron else None,
        "slug": spec.slug,
        "desc": spec.desc,
        "tags": list(spec.tags),
        "channels": list(spec.channels),
        "managed_by": ManagedBy.CONFIG.value,
    }


def channel_body(spec: ChannelSpec) -> Json:
    """The REST API body for ``spec``; settings it does not have are sent as ``null``."""
    return {
        "name": spec.name,
        "kind": spec.kind,
        **dict.fromkeys(sorted(CHANNEL_FIELDS - {"name", "kind"})),
        **spec.settings,
        "managed_by": ManagedBy.CONFIG.value,
    }


def _error_text(response: httpx.Response) -> tuple[str, dict[str, str]]:
    try:
        data = response.json()
    except ValueError:
        return (response.text.strip()[:200] or response.reason_phrase), {}
    if not isinstance(data, dict):
        return str(data)[:200], {}
    fields = data.get("fields")
    clean = {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}
    return str(data.get("error") or response.reason_phrase), clean


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Turn an HTTP error answer into the matching ``TocsinError`` with a clear message."""
    status = response.status_code
    if status < 400:
        return
    message, fields = _error_text(response)
    if status == 401:
        raise TocsinError(f"the server refused the API key (401): {message}")
    if status == 403:  # the server's message says what kind of key is needed
        raise TocsinError(f"the API key may not {what} (403): {message}")
    if status == 404:
        raise NotFoundError(f"cannot {what}: not found (404): {message}")
    if status == 409:
        raise ConflictError(f"cannot {what} (409): {message}")
    if status in (400, 422):
        details = "; ".join(f"{key}: {problem}" for key, problem in fields.items())
        text = f"the server refused to {what} ({status}): {message}"
        raise ValidationError(f"{text}: {details}" if details else text, fields)
    raise TocsinError(f"the server failed to {what} ({status}): {message}")


class _RemoteSession:
    """REST API v1 calls on one HTTP client."""

    def __init__(self, client: httpx.AsyncClient, where: str, page_size: int) -> None:
        self.client = client
        self.where = where
        self.page_size = page_size

    async def _call(self, method: str, path: str, what: str, body: Json | None = None) -> Any:
        import httpx

        try:
            response = await self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise TocsinError(f"cannot reach the server at {self.where}: {reason}") from exc
        raise_for_status(response, what)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TocsinError(
                f"the server at {self.where} did not answer with JSON to {method} {path}"
            ) from exc

    async def _list(self, section: str) -> list[Json]:
        """Every item of a list, page after page (following each page's ``next``)."""
        found: list[Json] = []
        path: str | None = f"/api/v1/{section}?limit={self.page_size}"
        seen: set[str] = set()
        while path is not None:
            seen.add(path)
            data = await self._call("GET", path, f"list {section}")
            items = data.get(section) if isinstance(data, dict) else None
            following = data.get("next") if isinstance(data, dict) else None
            if not isinstance(items, list) or not isinstance(following, str | None):
                raise TocsinError(
                    f"the server at {self.where} answered GET {path} without "
                    f"a {section!r} list: is this a tocsin server?"
                )
            found += [item for item in items if isinstance(item, dict)]
            if following in seen:
                raise TocsinError(f"the server at {self.where} pages {section} in a circle")
            path = following
        return found

    async def list_channels(self) -> list[Json]:
        return await self._list("channels")

    async def list_monitors(self) -> list[Json]:
        return await self._list("monitors")

    async def create_channel(self, spec: ChannelSpec) -> Json:
        what = f"create channel {spec.name!r}"
        return dict(await self._call("POST", "/api/v1/channels", what, channel_body(spec)) or {})

    async def update_channel(self, key: str, spec: ChannelSpec) -> Json:
        what = f"change channel {spec.name!r}"
        path = f"/api/v1/channels/{key}"
        return dict(await self._call("PATCH", path, what, channel_body(spec)) or {})

    async def delete_channel(self, key: str) -> None:
        await self._call("DELETE", f"/api/v1/channels/{key}", f"delete channel {key!r}")

    async def create_monitor(self, spec: MonitorSpec) -> Json:
        what = f"create monitor {spec.name!r}"
        return dict(await self._call("POST", "/api/v1/monitors", what, monitor_body(spec)) or {})

    async def update_monitor(self, key: str, spec: MonitorSpec) -> Json:
        what = f"change monitor {spec.name!r}"
        path = f"/api/v1/monitors/{key}"
        return dict(await self._call("PATCH", path, what, monitor_body(spec)) or {})

    async def delete_monitor(self, key: str) -> None:
        await self._call("DELETE", f"/api/v1/monitors/{key}", f"delete monitor {key!r}")

    async def list_maintenance(self) -> list[Json]:
        data = await self._call("GET", "/api/v1/maintenance", "list maintenance windows")
        found = data.get("holds") if isinstance(data, dict) else None
        if not isinstance(found, list):
            raise TocsinError(f"the server at {self.where} answered without maintenance windows")
        return [window_json(item.get("window") or {}) for item in found if isinstance(item, dict)]

    async def put_maintenance(self, window: MaintenanceWindow) -> None:
        path = f"/api/v1/maintenance/{quote(window.name, safe='')}"
        what = f"set maintenance window {window.name!r}"
        await self._call("PUT", path, what, window.to_json())

    async def delete_maintenance(self, name: str) -> None:
        path = f"/api/v1/maintenance/{quote(name, safe='')}"
        await self._call("DELETE", path, f"delete maintenance window {name!r}")


class RemoteBackend:
    """A tocsin server's REST API at ``base_url``, authenticated with ``api_key``.

    Like the local backend, it marks what it creates or changes ``managed_by=config``.
    """

    atomic = False
    marks_ownership = True

    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 30.0, page_size: int = PAGE_SIZE
    ) -> None:
        url = base_url.rstrip("/")
        if url.endswith("/api/v1"):
            url = url[: -len("/api/v1")]
        if not url.startswith(("http://", "https://")):
            raise TocsinError(f"--url {base_url!r} must start with http:// or https://")
        self.base_url = url
        self.api_key = api_key
        self.timeout = timeout
        self.page_size = page_size
        self.where = url

    @asynccontextmanager
    async def session(self, *, write: bool) -> AsyncIterator[BackendSession]:
        """An HTTP client with the API key; ``write`` makes no difference remotely."""
        import httpx

        from tocsin import __version__

        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": f"tocsin/{__version__}",
            "Accept": "application/json",
        }
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=self.timeout
        ) as client:
            yield _RemoteSession(client, self.where, self.page_size)

    async def _call(self, method: str, path: str, what: str, *, timeout: float) -> Any:
        """One API call on a client of its own, allowed ``timeout`` seconds."""
        other = RemoteBackend(self.base_url, self.api_key, timeout=timeout)
        async with other.session(write=method != "GET") as session:
            assert isinstance(session, _RemoteSession)
            return await session._call(method, path, what)

    async def test_channel(self, key: str) -> Json:
        """Ask the server to send the test: it goes out from the server, as alerts do."""
        from urllib.parse import quote

        # The server bounds a test by the channel's timeout (at most 60 s) plus a margin.
        path = f"/api/v1/channels/{quote(key, safe='')}/test"
        answer = await self._call("POST", path, f"test channel {key!r}", timeout=90.0)
        if not isinstance(answer, dict):
            raise TocsinError(f"the server at {self.where} did not answer a channel test")
        return answer

    async def list_deliveries(
        self, *, channel: str | None = None, monitor: str | None = None, limit: int = 50
    ) -> list[Json]:
        """One page of ``limit`` (the API allows up to ``PAGE_SIZE``)."""
        from urllib.parse import urlencode

        query = {"channel": channel, "monitor": monitor, "limit": min(limit, PAGE_SIZE)}
        params = urlencode({name: value for name, value in query.items() if value is not None})
        answer = await self._call(
            "GET", f"/api/v1/deliveries?{params}", "list deliveries", timeout=self.timeout
        )
        found = answer.get("deliveries") if isinstance(answer, dict) else None
        if not isinstance(found, list):
            raise TocsinError(
                f"the server at {self.where} answered without a 'deliveries' list: "
                "is it a tocsin server of this version?"
            )
        return [item for item in found if isinstance(item, dict)]

    async def list_incidents(self, *, open_only: bool = False, limit: int = 50) -> list[Json]:
        """One page of ``limit`` (the API allows up to ``PAGE_SIZE``)."""
        query = f"limit={min(limit, PAGE_SIZE)}" + ("&open=true" if open_only else "")
        answer = await self._call(
            "GET", f"/api/v1/incidents?{query}", "list incidents", timeout=self.timeout
        )
        found = answer.get("incidents") if isinstance(answer, dict) else None
        if not isinstance(found, list):
            raise TocsinError(
                f"the server at {self.where} answered without an 'incidents' list: "
                "is it a tocsin server of this version?"
            )
        return [item for item in found if isinstance(item, dict)]

    async def silence(self, monitor: str, for_: str | None, until: str | None) -> Json:
        """``POST /api/v1/silences``."""
        body = {"monitor": monitor, "for": for_, "until": until}
        async with self.session(write=True) as session:
            assert isinstance(session, _RemoteSession)
            answer = await session._call("POST", "/api/v1/silences", f"silence {monitor!r}", body)
        return answer if isinstance(answer, dict) else {}

    async def unsilence(self, monitor: str) -> None:
        """``DELETE /api/v1/silences/{monitor}``: the server sends what was held at once."""
        from urllib.parse import quote

        path = f"/api/v1/silences/{quote(monitor, safe='')}"
        await self._call("DELETE", path, f"unsilence {monitor!r}", timeout=self.timeout)

    async def project(self) -> Json:
        """``GET /api/v1/project``."""
        answer = await self._call(
            "GET", "/api/v1/project", "read the project", timeout=self.timeout
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("slug_ping_url"), str):
            raise TocsinError(
                f"the server at {self.where} answered without a project: "
                "is it a tocsin server of this version?"
            )
        return answer
