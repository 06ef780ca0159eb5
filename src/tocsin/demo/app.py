"""The demo's Flask app: a home page and tocsin's deep ``/healthz`` over Redis and RQ.

Run by ``tocsin demo`` as ``python -m tocsin.demo.app``; settings come from the
environment: ``DEMO_REDIS_URL``, ``DEMO_APP_PORT``, ``DEMO_HEALTH_TOKEN``.
"""

from __future__ import annotations

import os

from flask import Flask
from redis import Redis
from werkzeug.serving import make_server

from tocsin.flask import Tocsin
from tocsin.health.checks.redis import RedisCheck
from tocsin.health.checks.rq import RQQueueCheck

QUEUE = "demo"


def create_app(redis_url: str, token: str) -> Flask:
    """The app, its ``/healthz`` behind the bearer ``token``."""
    app = Flask(__name__)
    # A short cache so a killed worker shows within a probe or two.
    app.config.update(TOCSIN_HEALTH_TOKEN=token, TOCSIN_HEALTH_CACHE_SECONDS=0.5)
    redis = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    tocsin = Tocsin()
    tocsin.add(RedisCheck(redis))
    tocsin.add(RQQueueCheck(redis, QUEUE))
    tocsin.init_app(app)

    @app.get("/")
    def home() -> str:
        return "tocsin demo app: see /healthz (with the bearer token)\n"

    return app


def main() -> None:
    """Serve the app on 127.0.0.1 until stopped."""
    app = create_app(os.environ["DEMO_REDIS_URL"], os.environ["DEMO_HEALTH_TOKEN"])
    server = make_server("127.0.0.1", int(os.environ["DEMO_APP_PORT"]), app, threaded=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
