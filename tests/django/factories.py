"""Checks named by dotted path in the tests' ``TOCSIN_HEALTH``."""

from __future__ import annotations

from tocsin.django.checks import DatabaseCheck
from tocsin.health import FunctionCheck
from tocsin.health.check import Check

ALWAYS_WARN = FunctionCheck(lambda: False, component="optional", critical=False)


def sqlite_write() -> Check:
    """The default alias, with the write probe."""
    return DatabaseCheck("default", write=True)
