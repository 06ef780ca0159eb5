"""`tocsin server` and `tocsin migrate` (work in progress)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
