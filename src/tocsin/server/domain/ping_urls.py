"""The ping URL a user is shown for a monitor: built here and nowhere else."""

from __future__ import annotations

PING_PREFIX = "/ping/"


def ping_url(base_url: str, uuid: str) -> str:
    """``{base_url}/ping/{uuid}``: the URL that pings one monitor."""
    return f"{base_url}{PING_PREFIX}{uuid}"


def slug_ping_url(base_url: str, ping_key: str, slug: str) -> str:
    """``{base_url}/ping/{ping_key}/{slug}``: the URL that pings a project's monitor by slug
    (``slug`` may be a placeholder, to show the pattern)."""
    return f"{base_url}{PING_PREFIX}{ping_key}/{slug}"
