"""Settings: defaults, the generated secret key, validation, and the README table."""

from __future__ import annotations

import re
import stat
from dataclasses import fields
from pathlib import Path

import pytest

from timebank.errors import ConfigError
from timebank.settings import Settings

README = Path(__file__).parent.parent / "README.md"


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.data_dir == tmp_path / "var"
    assert settings.db_url == f"sqlite://{tmp_path / 'var' / 'timebank.sqlite3'}"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.lang == "zh-CN"
    assert settings.timezone == "Asia/Shanghai"
    assert not settings.https


def test_secret_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = Settings.from_env({"TIMEBANK_DATA_DIR": str(tmp_path)})
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 32
    again = Settings.from_env({"TIMEBANK_DATA_DIR": str(tmp_path)})
    assert again.secret_key == first.secret_key
    other = Settings.from_env({"TIMEBANK_DATA_DIR": str(tmp_path / "other")})
    assert other.secret_key != first.secret_key
    assert first.secret_key not in repr(first)


def test_secret_key_from_environment_wins(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"TIMEBANK_DATA_DIR": str(tmp_path), "TIMEBANK_SECRET_KEY": "k" * 40}
    )
    assert settings.secret_key == "k" * 40
    assert not (tmp_path / "secret_key").exists()


def test_too_short_stored_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("short\n")
    with pytest.raises(ConfigError, match="shorter than 32"):
        Settings.from_env({"TIMEBANK_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TIMEBANK_BASE_URL", "tb.example.org", "http"),
        ("TIMEBANK_LANG", "fr", "zh-CN, en"),
        ("TIMEBANK_TIMEZONE", "Mars/Olympus", "IANA"),
    ],
)
def test_bad_values_are_explained(tmp_path: Path, variable: str, value: str, message: str) -> None:
    env = {"TIMEBANK_DATA_DIR": str(tmp_path), variable: value}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_https_base_url_marks_cookies_secure(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"TIMEBANK_DATA_DIR": str(tmp_path), "TIMEBANK_BASE_URL": "https://tb.example.org/"}
    )
    assert settings.https
    assert settings.base_url == "https://tb.example.org"


def test_every_setting_is_documented_in_the_readme() -> None:
    documented = set(re.findall(r"^\| `(TIMEBANK_[A-Z_]+)` \|", README.read_text(), re.M))
    expected = {f"TIMEBANK_{f.name.upper()}" for f in fields(Settings)}
    assert documented == expected


def test_every_variable_the_code_reads_is_documented() -> None:
    source = (Path(__file__).parent.parent / "timebank" / "settings.py").read_text()
    read = set(re.findall(r'"(TIMEBANK_[A-Z_]+)"', source))
    documented = set(re.findall(r"^\| `(TIMEBANK_[A-Z_]+)` \|", README.read_text(), re.M))
    assert read and read <= documented
