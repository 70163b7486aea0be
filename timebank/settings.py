"""Settings, read once from ``TIMEBANK_*`` environment variables.

Every field here is documented in the README's settings table; ``tests/test_settings.py``
fails when one is not.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from timebank.errors import ConfigError

SUPPORTED_LANGS = ("zh-CN", "en")
SECRET_FILE = "secret_key"
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Settings:
    """The service's configuration; build it with :meth:`from_env`."""

    data_dir: Path
    db_url: str
    secret_key: str = field(repr=False)
    base_url: str
    lang: str
    timezone: str
    jobs: bool = True

    @property
    def https(self) -> bool:
        """Whether the public base URL is https (cookies are then marked Secure)."""
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: str) -> Settings:
        """Read ``TIMEBANK_*`` variables; keyword overrides win (for tests)."""
        env = {**(os.environ if environ is None else environ)}
        for key, value in overrides.items():
            env[f"TIMEBANK_{key.upper()}"] = value
        data_dir = Path(env.get("TIMEBANK_DATA_DIR") or "./var").resolve()
        db_url = env.get("TIMEBANK_DB_URL") or f"sqlite://{data_dir / 'timebank.sqlite3'}"
        return cls(
            data_dir=data_dir,
            db_url=db_url,
            secret_key=env.get("TIMEBANK_SECRET_KEY") or _stored_secret(data_dir),
            base_url=_base_url(env.get("TIMEBANK_BASE_URL") or "http://127.0.0.1:8000"),
            lang=_lang(env.get("TIMEBANK_LANG") or "zh-CN"),
            timezone=_timezone(env.get("TIMEBANK_TIMEZONE") or "Asia/Shanghai"),
            jobs=_switch("TIMEBANK_JOBS", env.get("TIMEBANK_JOBS") or "on"),
        )


def _switch(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"on", "1", "true", "yes"}:
        return True
    if lowered in {"off", "0", "false", "no"}:
        return False
    raise ConfigError(f"{name} must be on or off, not {value!r}. / {name} 只能是 on 或 off。")


def _stored_secret(data_dir: Path) -> str:
    """Return the key kept in the data dir, creating it (mode 0600) on first start."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two workers starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{path} holds a secret key shorter than {MIN_SECRET_LENGTH} characters; "
                f"delete it to generate a new one. / 密钥文件过短，请删除后重新生成。"
            ) from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    return key


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"TIMEBANK_BASE_URL must be an http(s) URL such as https://tb.example.org, "
            f"got {value!r}. / TIMEBANK_BASE_URL 必须是 http(s) 网址。"
        )
    return value.rstrip("/")


def _lang(value: str) -> str:
    if value not in SUPPORTED_LANGS:
        raise ConfigError(
            f"TIMEBANK_LANG must be one of {', '.join(SUPPORTED_LANGS)}, got {value!r}. "
            f"/ TIMEBANK_LANG 只能是 {'、'.join(SUPPORTED_LANGS)}。"
        )
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"TIMEBANK_TIMEZONE must be an IANA zone such as Asia/Shanghai, got {value!r}. "
            f"/ TIMEBANK_TIMEZONE 必须是时区名称，例如 Asia/Shanghai。"
        ) from None
    return value
