"""The schema, as SQLAlchemy Core tables. Alembic migrations must match it (a test checks)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    REAL,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tocsin.server.storage.types import UTCDateTime

# BigInteger primary keys that still autoincrement on SQLite (which only does so for INTEGER).
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    # Ping keys appear in slug ping URLs, so they are kept readable, like the URLs themselves.
    Column("ping_key", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

monitors = Table(
    "monitors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("slug", String(100), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("desc", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=list),
    Column("period_seconds", Float, nullable=True),
    Column("grace_seconds", Float, nullable=False),
    Column("cron", String(200), nullable=True),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("state", String(20), nullable=False),
    Column("last_ping_at", UTCDateTime, nullable=True),
    Column("last_start_at", UTCDateTime, nullable=True),
    Column("last_start_rid", String(36), nullable=True),
    Column("last_duration_seconds", Float, nullable=True),
    # When the state next changes by itself; the deadline watch scans this index.
    Column("next_deadline", UTCDateTime, nullable=True, index=True),
    Column("n_pings", BigInteger, nullable=False, default=0),
    Column("managed_by", String(20), nullable=False, default="api"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Probe monitors (http, app, tcp): the validated settings in the spec's JSON form, with
    # ${ENV} placeholders kept as text (resolved only at probe time).
    Column("probe", JSON, nullable=True),
    Column("interval_seconds", Float, nullable=True),
    Column("retry_interval_seconds", Float, nullable=True),
    # Consecutive failing / passing results: the confirmation count ("failing 1/2").
    Column("fail_streak", Integer, nullable=False, default=0, server_default="0"),
    Column("pass_streak", Integer, nullable=False, default=0, server_default="0"),
    Column("last_result_at", UTCDateTime, nullable=True),
    Column("last_verdict", String(10), nullable=True),
    # Which server process probes this monitor (several processes on PostgreSQL share
    # the probes). The lease lasts while the owner's server_nodes row is fresh; then it
    # has lapsed and is taken over.
    Column("lease_owner", String(64), nullable=True),
    # No longer written: leases used to end here and be renewed row by row. Kept (NULL)
    # so that databases migrated before need no migration.
    Column("lease_until", UTCDateTime, nullable=True),
    # When lease_owner took the lease: an over-share process gives back its newest first.
    Column("lease_since", UTCDateTime, nullable=True),
    # The alert policy (alert_policy.AlertPolicy.to_json, project defaults applied) without
    # its channels, which are monitor_channels; NULL: the default policy.
    Column("alert_policy", JSON(none_as_null=True), nullable=True),
    UniqueConstraint("project_id", "name"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("managed_by", String(20), nullable=False, default="api"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "name"),
)

monitor_channels = Table(
    "monitor_channels",
    metadata,
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
)

pings = Table(
    "pings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    # Per-monitor sequence number; pruning keeps the newest N.
    Column("n", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("exit_status", SmallInteger, nullable=True),
    Column("rid", String(36), nullable=True),
    Column("duration_seconds", Float, nullable=True),
    Column("method", String(10), nullable=False),
    Column("scheme", String(10), nullable=False),
    Column("remote_addr", String(64), nullable=True),
    Column("user_agent", String(200), nullable=True),
    Column("body", Text, nullable=True),
    Column("body_size", Integer, nullable=False, default=0),
    Index("ix_pings_monitor_id_n", "monitor_id", "n"),
)

flips = Table(
    "flips",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("old_state", String(20), nullable=False),
    Column("new_state", String(20), nullable=False),
    Column("cause", Text, nullable=False),
    Index("ix_flips_monitor_id_created_at", "monitor_id", "created_at"),
)

# The durable outbox: one row per alert per channel, written in the same transaction as
# the flip that raised it, so a crash between "monitor went down" and "alert sent" loses
# nothing.
notifications = Table(
    "notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("flip_id", ForeignKey("flips.id", ondelete="SET NULL"), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=True, index=True),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("incident_id", ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
    Index("ix_notifications_incident_id", "incident_id"),
)
# Alerts of one channel and monitor leave in id order: claiming one asks whether an older
# one of the pair is still pending. Only pending rows are indexed, so it stays small.
_PENDING = notifications.c.status == "pending"
Index(
    "ix_notifications_pending_pair",
    notifications.c.channel_id,
    notifications.c.monitor_id,
    notifications.c.id,
    postgresql_where=_PENDING,
    sqlite_where=_PENDING,
)

# One row per delivery attempt of a notification, written with the attempt's outcome.
# Rows older than the retention (30 days) are deleted as new attempts are recorded.
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "notification_id",
        ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False, index=True),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("http_status", SmallInteger, nullable=True),
    Column("error", Text, nullable=True),
    # Listing newest first per channel or per notification (and the cascades) use these.
    Index("ix_delivery_attempts_channel_id_id", "channel_id", "id"),
    Index("ix_delivery_attempts_notification_id_id", "notification_id", "id"),
)

# Raw probe results, pruned after TOCSIN_RESULT_RETENTION (default 7 days).
probe_results = Table(
    "probe_results",
    metadata,
    # Widest first, so PostgreSQL pads no column (storage.result_codec explains the rest).
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime, nullable=False),
    # The result_labels id of a compact result, whose outcomes and components then hold
    # only the values; NULL: they hold the full AssertionOutcome/ComponentReading JSON.
    Column("labels", BigInteger, nullable=True),
    Column("cert_not_after", UTCDateTime, nullable=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    # The scheduled time, as milliseconds before the start.
    Column("late_ms", Integer, nullable=False),
    Column("total_ms", REAL, nullable=True),
    Column("dns_ms", REAL, nullable=True),
    Column("connect_ms", REAL, nullable=True),
    Column("tls_ms", REAL, nullable=True),
    Column("first_byte_ms", REAL, nullable=True),
    Column("status_code", SmallInteger, nullable=True),
    Column("verdict", String(10), nullable=False),
    Column("failure", String(20), nullable=True),
    Column("error", Text, nullable=True),
    # none_as_null: a result without components stores SQL NULL, not the JSON text null.
    Column("outcomes", JSON(none_as_null=True), nullable=True),
    Column("components", JSON(none_as_null=True), nullable=True),
    Index("ix_probe_results_monitor_id_started_at", "monitor_id", "started_at"),
)

# What compact results share: their outcomes' and components' texts, by content hash.
result_labels = Table(
    "result_labels",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("body", JSON, nullable=False),
)

# The current state of each component of an app monitor.
component_states = Table(
    "component_states",
    metadata,
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("status", String(10), nullable=False),
    Column("value", JSON, nullable=True),
    Column("unit", String(40), nullable=True),
    Column("message", Text, nullable=True),
    # When the status last changed (not when the value did).
    Column("changed_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Hourly aggregates of probe results, kept 400 days; component_key '' is the monitor itself.
result_hours = Table(
    "result_hours",
    metadata,
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column("component_key", String(200), primary_key=True),
    Column("hour", UTCDateTime, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("warnings", Integer, nullable=False),
    Column("latency_p50", Float, nullable=True),
    Column("latency_p95", Float, nullable=True),
    Column("latency_max", Float, nullable=True),
    Column("value_min", Float, nullable=True),
    Column("value_max", Float, nullable=True),
    Column("value_last", Float, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    # The public half of the key, used to find the row; the secret half is only hashed.
    Column("key_id", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("scope", String(10), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# Dashboard users: people who log in with a password (API clients use api_keys).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    # An argon2id hash in its PHC string form (parameters and salt included).
    Column("password_hash", String(255), nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime, nullable=True),
    Column("disabled", Boolean, nullable=False, default=False, server_default="0"),
)

# Dashboard sessions; the cookie holds the id, the row only its SHA-256.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
    Column("user_agent", String(300), nullable=False, default=""),
)

# Failed logins of the last few minutes, counted per username and per client address.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False, index=True),
    Index("ix_login_failures_username_at", "username", "at"),
    Index("ix_login_failures_address_at", "address", "at"),
)

# The server processes sharing the probes (PostgreSQL): each refreshes its row on every
# probe reload; a process seen recently counts towards the fair share of the leases.
server_nodes = Table(
    "server_nodes",
    metadata,
    Column("node", String(64), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False, index=True),
)

# A monitor's trouble: opened when it goes down, resolved when it recovers; its alerts
# point at it (notifications.incident_id).
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True, index=True),
    Column("cause", Text, nullable=False),
    Column("resolve_cause", Text, nullable=True),
    Index("ix_incidents_monitor_id_opened_at", "monitor_id", "opened_at"),
)

# The monitors that went down while their alerts were held by a parent (``depends_on``)
# in that parent's incident: listed in it instead of paging on their own.
incident_children = Table(
    "incident_children",
    metadata,
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
    Index("ix_incident_children_monitor_id", "monitor_id"),
)

# Per monitor: what its users were last told (notify_decision.NoticeLog), its open incident
# and when the policy watch must decide again. Written only with flips and notices.
alert_states = Table(
    "alert_states",
    metadata,
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column("log", JSON, nullable=False),
    Column("incident_id", ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
    Column("wake_at", UTCDateTime, nullable=True, index=True),
)

# What holds alerts: silences (one monitor, until a time) and maintenance windows (by
# monitor names, one-off or recurring; ``window`` is MaintenanceWindow.to_json).
# ``ends_at``: when it is over for good (NULL for a recurring window).
holds = Table(
    "holds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("name", String(100), nullable=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=True),
    Column("window", JSON(none_as_null=True), nullable=True),
    Column("starts_at", UTCDateTime, nullable=True),
    Column("ends_at", UTCDateTime, nullable=True, index=True),
    Column("managed_by", String(20), nullable=False, default="api"),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_holds_project_id_kind", "project_id", "kind"),
)

# Public status pages (no login): a title and the monitors or components they show.
status_pages = Table(
    "status_pages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    # The page's address, /status/<slug>; unique across the server.
    Column("slug", String(100), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# What a status page shows, in order: a monitor (component_key '') or one component of an
# app monitor, under the public name chosen for the page (never the monitor's own name).
status_page_items = Table(
    "status_page_items",
    metadata,
    Column("page_id", ForeignKey("status_pages.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("component_key", String(200), nullable=False, default=""),
    Column("display_name", String(100), nullable=False),
)

# Status badges of one monitor or of every monitor with a tag, at /badge/<key>.svg|.json.
# The key is kept (admins copy the URL again later) and found by its SHA-256.
badges = Table(
    "badges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("monitor_id", ForeignKey("monitors.id", ondelete="CASCADE"), nullable=True),
    Column("tag", String(100), nullable=True),
    Column("label", String(60), nullable=False),
    Column("key", String(64), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)
