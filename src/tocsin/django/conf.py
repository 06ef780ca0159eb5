"""``settings.TOCSIN_HEALTH``: read once, validated completely, rebuilt when it changes.

::

    TOCSIN_HEALTH = {
        "token": os.environ.get("HEALTH_TOKEN"),  # None: the deep report is public
        "checks": ["tocsin.django.checks.database_checks", RedisCheck(REDIS_URL)],
        "cache_ttl": 5.0,
    }

Every problem is listed in one ``ImproperlyConfigured`` raised when Django starts (the app's
``ready()``), never in a request. ``override_settings(TOCSIN_HEALTH=...)`` in tests takes
effect at the next request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from tocsin.django.checks import CacheCheck, DatabaseCheck
from tocsin.health.check import Check
from tocsin.health.endpoint import HealthEndpoint
from tocsin.health.runner import DEFAULT_BUDGET, DEFAULT_TTL, HealthChecker

logger = logging.getLogger(__name__)

SETTING = "TOCSIN_HEALTH"
#: Without ``"checks"``: every database alias answers ``SELECT 1``.
DEFAULT_CHECKS = ("tocsin.django.checks.database_checks",)
KEYS = ("token", "public_status", "checks", "cache_ttl", "budget", "metrics", "info")


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """``TOCSIN_HEALTH`` once read: an endpoint ready to answer, and whether metrics are on."""

    endpoint: HealthEndpoint
    metrics: bool


def read_settings(raw: Any) -> HealthSettings:
    """The endpoint ``raw`` (the setting's value) describes; raises ``ImproperlyConfigured``
    listing every problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"{SETTING} must be a dict, got {type(raw).__name__}")
    problems = [f"unknown key {key!r} (known: {', '.join(KEYS)})" for key in raw if key not in KEYS]
    token = raw.get("token")
    if token is not None and (not isinstance(token, str) or not token):
        problems.append("'token' must be a non-empty string or None")
    ttl = _number(raw.get("cache_ttl", DEFAULT_TTL), "cache_ttl", 0.0, problems)
    budget = _number(raw.get("budget", DEFAULT_BUDGET), "budget", None, problems)
    for key in ("public_status", "metrics"):
        if not isinstance(raw.get(key, False), bool):
            problems.append(f"{key!r} must be True or False")
    info = raw.get("info", {})
    if not isinstance(info, dict):
        problems.append("'info' must be a dict of extra report fields")
        info = {}
    checks = _load_checks(raw.get("checks", DEFAULT_CHECKS), problems)
    if problems:
        raise ImproperlyConfigured(f"{SETTING}: " + "; ".join(problems))
    checker = HealthChecker(checks, ttl=ttl, budget=budget)
    endpoint = HealthEndpoint(
        checker, token=token, public_status=raw.get("public_status", False), info=dict(info)
    )
    return HealthSettings(endpoint, raw.get("metrics", False))


def _number(value: Any, key: str, minimum: float | None, problems: list[str]) -> float:
    """``value`` as a float: ``>= minimum``, or ``> 0`` when ``minimum`` is None."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and (value >= minimum if minimum is not None else value > 0):
        return float(value)
    bound = f">= {minimum:g}" if minimum is not None else "> 0"
    problems.append(f"{key!r} must be a number of seconds {bound}, got {value!r}")
    return 1.0


def _load_checks(entries: Any, problems: list[str]) -> list[Check]:
    """Check objects, or dotted paths to a Check, a Check class or a factory (called with
    no arguments, returning a Check or a list of them)."""
    if isinstance(entries, str | Check) or not isinstance(entries, Iterable):
        problems.append("'checks' must be a list of checks or dotted paths")
        return []
    checks: list[Check] = []
    for index, entry in enumerate(entries):
        where = f"checks[{index}]"
        try:
            loaded = _load(entry)
        except Exception as exc:  # listed with the others, raised once at start-up
            problems.append(f"{where} ({entry!r}): {type(exc).__name__}: {exc}")
            continue
        if loaded is None:
            problems.append(
                f"{where}: {entry!r} is neither a Check nor a dotted path to a Check, "
                "a Check class or a factory returning checks"
            )
            continue
        for check in loaded:
            problem = _alias_problem(check)
            if problem:
                problems.append(f"{where}: {problem}")
        checks.extend(loaded)
    return checks


def _load(entry: Any) -> list[Check] | None:
    """The checks one entry stands for; None when it stands for none."""
    if isinstance(entry, str):
        entry = import_string(entry)
        if callable(entry):  # a Check class or a factory
            entry = entry()
    if isinstance(entry, Check):
        return [entry]
    if isinstance(entry, list | tuple) and all(isinstance(c, Check) for c in entry):
        return list(entry)
    return None


def _alias_problem(check: Check) -> str | None:
    if isinstance(check, DatabaseCheck) and check.alias not in settings.DATABASES:
        return f"no database alias {check.alias!r} in DATABASES"
    if isinstance(check, CacheCheck) and check.alias not in settings.CACHES:
        return f"no cache alias {check.alias!r} in CACHES"
    return None


_lock = threading.Lock()
_current: HealthSettings | None = None


def current() -> HealthSettings:
    """The settings in force (read at the first call, again after they changed)."""
    global _current
    with _lock:
        if _current is None:
            _current = read_settings(getattr(settings, SETTING, None))
            if _current.endpoint.token is None:
                logger.warning("healthz has no token, the deep report is public")
        return _current


def health_endpoint() -> HealthEndpoint:
    """The :class:`HealthEndpoint` the views answer with (its checker, token and cache)."""
    return current().endpoint


def _forget(*, setting: str, **kwargs: Any) -> None:
    global _current
    if setting in (SETTING, "DATABASES", "CACHES"):
        with _lock:
            _current = None


setting_changed.connect(_forget, dispatch_uid="tocsin.django.conf")
