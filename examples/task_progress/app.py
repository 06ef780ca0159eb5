"""Example: a Flask page whose "Generate report" button shows queued -> running 40 % -> done.

Run (three terminals, Redis on 127.0.0.1:6379)::

    gunicorn -k gthread --threads 16 -b 127.0.0.1:5000 'examples.task_progress.app:create_app()'
    rq worker --with-scheduler -w tocsin.tasks.rq.TrackingWorker -u redis://127.0.0.1:6379/0
    open http://127.0.0.1:5000/        (add ?fail=1 to see "retrying in 2 s", ?transport=poll
                                        to force the 2 s polling fallback)

SSE holds a thread per open stream: use gunicorn's gthread (or gevent) worker, never sync.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from examples.task_progress.jobs import generate_report
from flask import Flask, jsonify, request, send_file, session
from redis import Redis
from rq import Queue, Retry

from tocsin.tasks.flask_blueprint import task_blueprint
from tocsin.tasks.redis_store import RedisTaskStore
from tocsin.tasks.rq import cancel_hook, enqueue

STATIC = Path(__file__).parent / "static"


def create_app(redis_url: str | None = None) -> Flask:
    """The example app on ``redis_url`` (default ``$REDIS_URL`` or the local Redis, DB 0)."""
    url = redis_url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    connection = Redis.from_url(url)
    store = RedisTaskStore(connection)
    queue = Queue(connection=connection)
    app = Flask(__name__)
    # A fixed development key keeps sessions (and so task ownership) valid across restarts;
    # set SECRET_KEY in any real deployment.
    app.secret_key = os.environ.get("SECRET_KEY", "task-progress-example-dev-key")

    def authorize(task: Any, req: Any) -> bool:
        # Only the browser session that started a report may see it; others get 404.
        return bool(task.owner is not None and task.owner == session.get("user"))

    app.register_blueprint(
        task_blueprint(store, authorize=authorize, on_cancel=cancel_hook(connection)),
        url_prefix="/tasks",
    )

    @app.get("/")
    def index() -> Any:
        session.setdefault("user", secrets.token_hex(8))
        return send_file(STATIC / "index.html")

    @app.post("/reports")
    def start_report() -> Any:
        user = session.setdefault("user", secrets.token_hex(8))
        fail = request.args.get("fail") == "1"
        job = enqueue(
            queue,
            generate_report,
            steps=int(request.args.get("steps", 10)),
            fail_first=fail,
            owner=user,
            name="report",
            retry=Retry(max=1, interval=2),
        )
        return jsonify({"id": job.id, "status_url": f"/tasks/{job.id}"}), 202

    return app
