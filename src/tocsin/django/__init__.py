"""Django integration: settings-driven ``/healthz``, ``/livez``, metrics and task status.

::

    INSTALLED_APPS = [..., "tocsin.django"]
    TOCSIN_HEALTH = {"token": os.environ["HEALTH_TOKEN"], "checks": [...]}

    # urls.py
    urlpatterns = [path("", include("tocsin.django.urls"))]

The views are thin adapters over :class:`tocsin.health.HealthEndpoint` and
:class:`tocsin.tasks.task_endpoint.TaskEndpoint`; see ``docs/django.md``.
"""

from tocsin.django.checks import CacheCheck, DatabaseCheck, database_checks
from tocsin.django.conf import health_endpoint
from tocsin.django.task_views import task_urls

__all__ = ["CacheCheck", "DatabaseCheck", "database_checks", "health_endpoint", "task_urls"]
