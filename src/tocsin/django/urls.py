"""``path("", include("tocsin.django.urls"))``: ``healthz``, ``livez`` and ``metrics``.

Names (namespace ``tocsin``): ``tocsin:healthz``, ``tocsin:livez``, ``tocsin:metrics``.
"""

from __future__ import annotations

from django.urls import path

from tocsin.django import views

app_name = "tocsin"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("livez", views.livez, name="livez"),
    path("metrics", views.metrics, name="metrics"),
]
