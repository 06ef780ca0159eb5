"""The example's Flask API: enqueue work, and a deep /healthz that watches it.

Run it with ``flask --app app run`` next to ``python worker.py``. Settings come from
the environment: ``REDIS_URL``, ``RQ_QUEUES``, ``DATABASE_URL`` (optional),
``TOCSIN_HEALTH_TOKEN`` (optional), ``HEALTH_CACHE_SECONDS``, ``JOB_AGE_SLA_SECONDS``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, request
from redis import Redis
from rq import Queue

from tocsin.flask import Tocsin
from tocsin.health import above
from tocsin.health.checks.redis import RedisCheck
from tocsin.health.checks.rq import RQQueueCheck

env = os.environ.get


def create_app(
    redis_url: str = env("REDIS_URL", "redis://127.0.0.1:6379/0"),
    queues: list[str] = env("RQ_QUEUES", "default").split(","),  # noqa: B008
    database_url: str | None = env("DATABASE_URL"),
    token: str | None = env("TOCSIN_HEALTH_TOKEN"),
    cache_seconds: float = float(env("HEALTH_CACHE_SECONDS", "5")),
    job_age_sla: float = float(env("JOB_AGE_SLA_SECONDS", "300")),
    **config: Any,
) -> Flask:
    """The API with its health checks; ``config`` goes to ``app.config``."""
    app = Flask(__name__)
    app.config.update(
        TOCSIN_HEALTH_TOKEN=token,
        TOCSIN_HEALTH_CACHE_SECONDS=cache_seconds,
        TOCSIN_METRICS_PATH="/healthz/metrics",
        **config,
    )
    redis = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    rq_queues = {name: Queue(name, connection=redis) for name in queues}

    tocsin = Tocsin()
    tocsin.add(RedisCheck(redis))
    for name in queues:
        # Welcome emails must go out within the SLA: warn at half of it, fail past it.
        tocsin.add(RQQueueCheck(redis, name, age=above(warn=job_age_sla / 2, fail=job_age_sla)))
    if database_url:
        from tocsin.health.checks.sql import SQLWriteCheck

        tocsin.add(SQLWriteCheck(database_url))
    tocsin.init_app(app)

    @app.post("/signup")
    def signup() -> tuple[Any, int]:
        address = (request.get_json(silent=True) or {}).get("email", "someone@example.com")
        job = rq_queues[queues[0]].enqueue("jobs.send_welcome_email", address)
        return jsonify({"job_id": job.id}), 202

    return app


if __name__ != "__main__":
    app = create_app()
