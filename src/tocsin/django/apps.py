"""The Django app: validates ``TOCSIN_HEALTH`` when Django starts."""

from __future__ import annotations

from django.apps import AppConfig


class TocsinConfig(AppConfig):  # type: ignore[misc]  # django ships no types
    """``"tocsin.django"`` in ``INSTALLED_APPS``; its label is ``tocsin``."""

    name = "tocsin.django"
    label = "tocsin"
    verbose_name = "tocsin"

    def ready(self) -> None:
        """Build the health endpoint now, so a bad setting stops start-up, not a request."""
        from tocsin.django.conf import health_endpoint

        health_endpoint()
