"""The example's Flask API: publish Celery tasks, and a deep /healthz that watches them.

Run it with ``flask --app app run`` next to ``celery -A celery_app worker -Q emails -B``.
Settings: the worker's (see ``celery_app.py``) plus ``TOCSIN_HEALTH_TOKEN`` (optional),
``HEALTH_CACHE_SECONDS`` and ``TASK_AGE_SLA_SECONDS``.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery_app import make_celery
from flask import Flask, jsonify, request

from tocsin.flask import Tocsin
from tocsin.health import above
from tocsin.health.checks.celery import CeleryQueueCheck, CeleryWorkersCheck

env = os.environ.get


def create_app(
    celery: Celery | None = None,
    token: str | None = env("TOCSIN_HEALTH_TOKEN"),
    cache_seconds: float = float(env("HEALTH_CACHE_SECONDS", "5")),
    task_age_sla: float = float(env("TASK_AGE_SLA_SECONDS", "300")),
    inspect_cache: float = 10.0,
    **config: Any,
) -> Flask:
    """The API with its health checks; ``config`` goes to ``app.config``."""
    celery = celery or make_celery()
    queue = str(celery.conf.task_default_queue)
    broker = str(celery.conf.broker_url)
    liveness = env("LIVENESS_REDIS_URL") or (broker if broker.startswith("redis") else None)
    app = Flask(__name__)
    app.config.update(TOCSIN_HEALTH_TOKEN=token, TOCSIN_HEALTH_CACHE_SECONDS=cache_seconds)
    app.config.update(config)

    tocsin = Tocsin()
    # With Redis, workers are counted from tocsin's liveness keys (seconds fresh);
    # with RabbitMQ and no Redis, from a bounded, cached inspect broadcast.
    tocsin.add(CeleryWorkersCheck(celery, queue, liveness=liveness, inspect_cache=inspect_cache))
    age = above(warn=task_age_sla / 2, fail=task_age_sla)
    tocsin.add(CeleryQueueCheck(celery, queue, age=age))
    tocsin.init_app(app)

    @app.post("/signup")
    def signup() -> tuple[Any, int]:
        address = (request.get_json(silent=True) or {}).get("email", "someone@example.com")
        result = celery.send_task("example.send_welcome_email", args=[address])
        return jsonify({"task_id": result.id}), 202

    return app


app = create_app()
