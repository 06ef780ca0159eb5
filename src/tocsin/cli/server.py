"""`tocsin server` and `tocsin migrate`."""

from __future__ import annotations

import click

from tocsin.cli import friendly_errors
from tocsin.settings import Settings


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.command()
@click.option("--host", help="Address to listen on [default: 127.0.0.1, or TOCSIN_HOST].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [default: 8000, or TOCSIN_PORT].")
@friendly_errors
def server(host: str | None, port: int | None) -> None:
    """Run the monitoring server (migrates the database first).

    SQLite in the data directory by default; TOCSIN_DATABASE_URL=postgresql://... for
    PostgreSQL.
    """
    from tocsin.logs import configure_logging
    from tocsin.server.gc_tuning import tune_garbage_collector
    from tocsin.server.storage.migrate import upgrade
    from tocsin.server.web.app import create_app
    from tocsin.server.web.serving import serve

    settings = Settings.from_env().with_overrides(host=host, port=port)
    configure_logging(settings.log_level, settings.log_format)
    upgrade(settings.database_url)
    click.echo(
        f"tocsin server on http://{settings.host}:{settings.port} "
        f"(database {_redact(settings.database_url)})",
        err=True,
    )
    app = create_app(settings)
    tune_garbage_collector()
    serve(app, settings)


@click.command()
@friendly_errors
def migrate() -> None:
    """Bring the database named by the settings to the newest schema."""
    from tocsin.server.storage.migrate import current_revision, upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    click.echo(
        f"database {_redact(settings.database_url)} at revision "
        f"{current_revision(settings.database_url)}"
    )


COMMANDS: list[click.Command] = [server, migrate]
