"""Django is configured once, for the tests of this folder only (see ``project.py``)."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.django.project import settings_for


@pytest.fixture(scope="session", autouse=True)
def django_project(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Configure settings and run ``django.setup()`` (the app's ``ready()``) once."""
    import django
    from django.conf import settings

    if not settings.configured:
        folder = tmp_path_factory.mktemp("django")
        settings.configure(**settings_for(folder, postgres_url, free_port()))
        django.setup()
