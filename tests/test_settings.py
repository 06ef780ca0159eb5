"""Settings come only from TOCSIN_* variables, and every bad one is reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.errors import ConfigError
from tocsin.settings import Settings


def test_defaults_put_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"TOCSIN_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'tocsin.db'}"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.base_url == "http://127.0.0.1:8000"


def test_xdg_data_home_is_the_default_parent(tmp_path: Path) -> None:
    settings = Settings.from_env({"XDG_DATA_HOME": str(tmp_path)})
    assert settings.data_dir == tmp_path / "tocsin"


def test_every_bad_value_is_listed() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(
            {
                "TOCSIN_PORT": "eighty",
                "TOCSIN_PING_HISTORY": "0",
                "TOCSIN_LOG_FORMAT": "xml",
                "TOCSIN_DEADLINE_RELOAD_SECONDS": "-1",
                "TOCSIN_WRITER_CONCURRENCY": "0",
            }
        )
    assert sorted(info.value.problems) == [
        "TOCSIN_DEADLINE_RELOAD_SECONDS='-1' must be greater than 0",
        "TOCSIN_LOG_FORMAT='xml' must be 'console' or 'json'",
        "TOCSIN_PING_HISTORY='0' must be at least 1",
        "TOCSIN_PORT='eighty' is not a whole number",
        "TOCSIN_WRITER_CONCURRENCY='0' must be at least 1",
    ]


def test_cli_flags_override_and_move_the_base_url() -> None:
    settings = Settings.from_env({}).with_overrides(port=9000, host=None)
    assert settings.port == 9000
    assert settings.base_url == "http://127.0.0.1:9000"
    public = Settings.from_env({"TOCSIN_BASE_URL": "https://tocsin.example.com/"})
    assert public.with_overrides(port=9000).base_url == "https://tocsin.example.com"
