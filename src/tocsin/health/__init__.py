"""Deep health checks for apps: concurrent, time-boxed, cached, health+json.

The core imports nothing heavy; each built-in check lives in its own module under
``tocsin.health.checks`` and imports its client library (redis, rq, celery,
sqlalchemy) only when you import that module.
"""

from tocsin.health.asgi import HealthASGIApp
from tocsin.health.check import Check, FunctionCheck
from tocsin.health.endpoint import HealthEndpoint, HTTPResponse
from tocsin.health.model import MEDIA_TYPE, HealthReport, Measurement, Status
from tocsin.health.runner import HealthChecker
from tocsin.health.thresholds import NEVER, Threshold, above, below
from tocsin.health.wsgi import HealthWSGIApp

__all__ = [
    "MEDIA_TYPE",
    "NEVER",
    "Check",
    "FunctionCheck",
    "HTTPResponse",
    "HealthASGIApp",
    "HealthChecker",
    "HealthEndpoint",
    "HealthReport",
    "HealthWSGIApp",
    "Measurement",
    "Status",
    "Threshold",
    "above",
    "below",
]
