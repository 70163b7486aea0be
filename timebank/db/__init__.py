"""Database wiring: the tortoise config for a URL, opening/closing, and migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, TypeVar

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import ConfigurationError
from tortoise.fields import DateField, DatetimeField
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.models import Model

from timebank.errors import ConfigError, NotFound

M = TypeVar("M", bound=Model)
APP_LABEL = "timebank"
# Every module holding tortoise models; a feature adds its own here.
MODEL_MODULES = [
    "timebank.people.models",
    "timebank.ledger.models",
    "timebank.catalog.models",
    "timebank.pairing.models",
    "timebank.orders.models",
    "timebank.visits.models",
    "timebank.redeem.models",
    "timebank.settlement.models",
]
MIGRATIONS_MODULE = "timebank.migrations"

# Applied on every SQLite connection. WAL lets readers run beside the one writer;
# synchronous=FULL makes each commit durable (a ledger must not lose a posted hour on power
# loss); busy_timeout makes a writer wait for the lock rather than fail.
SQLITE_PRAGMAS: dict[str, Any] = {
    "journal_mode": "WAL",
    "synchronous": "FULL",
    "busy_timeout": 15000,
    "foreign_keys": "ON",
}


async def _keep_session(conn: Any) -> None:
    """Return a PostgreSQL connection to the pool as it is.

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release: one more round trip per query on the ledger's hot path.
    Timebank never changes session state (no SET, LISTEN, advisory locks or cursors
    outside a transaction), and asyncpg still rolls back an open transaction itself.
    """


def connection_config(db_url: str) -> dict[str, Any]:
    """The tortoise connection dict for ``db_url`` (sqlite:// or postgres://)."""
    try:
        conn = expand_db_url(db_url)
    except (ConfigurationError, KeyError, ValueError) as exc:
        raise ConfigError(
            f"TIMEBANK_DB_URL {db_url!r} is not a database URL tortoise understands "
            f"(use sqlite:///path/file.sqlite3 or postgres://user@host:5432/name): {exc}. "
            f"/ TIMEBANK_DB_URL 格式不正确。"
        ) from None
    engine = conn["engine"]
    if engine == "tortoise.backends.sqlite":
        conn["engine"] = "timebank.db.sqlite"
        conn["credentials"].update(SQLITE_PRAGMAS)
        path = conn["credentials"]["file_path"]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    elif engine == "tortoise.backends.asyncpg":
        conn["credentials"]["reset"] = _keep_session
    else:
        raise ConfigError(
            f"TIMEBANK_DB_URL must point at SQLite or PostgreSQL, got engine {engine}. "
            f"/ 只支持 SQLite 和 PostgreSQL。"
        )
    return conn


def tortoise_config(db_url: str) -> dict[str, Any]:
    """The whole tortoise config: one connection, one app with its migrations."""
    return {
        "connections": {"default": connection_config(db_url)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def dialect() -> str:
    """``sqlite`` or ``postgres``: the engine behind the open connection."""
    return str(connections.get("default").capabilities.dialect)


def _forget_cached_statements() -> None:
    # tortoise caches each model's INSERT/DELETE SQL per connection *name*, across inits:
    # after an SQLite run, a PostgreSQL connection also named "default" would be handed
    # SQLite's "?" placeholders. Harmless in production (one database per process), wrong
    # whenever one process opens another kind of database (tests, tools).
    EXECUTOR_CACHE.clear()


async def open_db(db_url: str) -> None:
    """Open the ORM for the running service (requests run in other tasks)."""
    _forget_cached_statements()
    await Tortoise.init(config=tortoise_config(db_url), _enable_global_fallback=True)


@asynccontextmanager
async def connected(db_url: str) -> AsyncIterator[None]:
    """The database open for one command (``timebank verify``, ``timebank demo`` …)."""
    await open_db(db_url)
    try:
        yield
    finally:
        await close_db()


async def close_db() -> None:
    """Close every connection the ORM holds."""
    await Tortoise.close_connections()


async def migrate(
    db_url: str, *, progress: Callable[[str, str, str], object] | None = None
) -> None:
    """Apply every pending migration, then close the connections it opened."""
    _forget_cached_statements()
    try:
        await tortoise_migrate(config=tortoise_config(db_url), progress=progress)
    finally:
        await Tortoise.close_connections()


async def ping() -> None:
    """Run a trivial query; raises when the database cannot be reached."""
    await connections.get("default").execute_query("SELECT 1")


@lru_cache(maxsize=512)
def _numbered(query: str) -> str:
    parts = query.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


def sql(query: str, client: BaseDBAsyncClient) -> str:
    """``query`` written with ``?`` placeholders, in the form ``client`` expects."""
    return query if client.capabilities.dialect == "sqlite" else _numbered(query)


def _params(client: BaseDBAsyncClient, params: tuple[Any, ...]) -> list[Any]:
    # SQLite stores times as text, as tortoise writes them (sqlite3's default datetime
    # adapter is deprecated); PostgreSQL takes datetimes as they are.
    if client.capabilities.dialect != "sqlite":
        return list(params)
    return [p.isoformat(sep=" ") if isinstance(p, datetime) else p for p in params]


async def fetch(query: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of a plain-SQL ``query`` on the current connection (or transaction)."""
    client = connections.get("default")
    return list(await client.execute_query_dict(sql(query, client), _params(client, params)))


async def execute(query: str, *params: Any) -> int:
    """Run a plain-SQL statement on the current connection; the number of rows changed."""
    client = connections.get("default")
    changed, _ = await client.execute_query(sql(query, client), _params(client, params))
    return int(changed)


def stored_time(value: Any) -> datetime:
    """A time read by plain SQL as an aware datetime (SQLite returns ISO text)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cache
def _time_columns(model: type[Model]) -> tuple[tuple[str, bool], ...]:
    """(column, is a date-time) of a model's date and date-time columns."""
    found = []
    for name, column in model._meta.fields_db_projection.items():
        field = model._meta.fields_map[name]
        if isinstance(field, DatetimeField):
            found.append((column, True))
        elif isinstance(field, DateField):
            found.append((column, False))
    return tuple(found)


def from_row(model: type[M], row: Mapping[str, Any]) -> M:
    """A model instance from a raw row (db column → value), as the ORM would build it.

    SQLite returns times as ISO text; they are parsed here with ``datetime.fromisoformat``
    (C, ~0.2 µs) rather than by tortoise (~17 µs each): hot paths read rows with many.
    """
    values = dict(row)
    for column, is_datetime in _time_columns(model):
        value = values.get(column)
        if isinstance(value, str):
            values[column] = (
                datetime.fromisoformat(value) if is_datetime else date.fromisoformat(value)
            )
    return model._init_from_db(**values)


async def get_or_404(model: type[M], record_id: int, en: str, zh: str, code: str) -> M:
    """The ``model`` row with this id, or a 404 naming what it is (``en``, ``zh``)."""
    found = await model.get_or_none(id=record_id)
    if found is None:
        raise NotFound(
            f"There is no {en} number {record_id}.", f"找不到编号为 {record_id} 的{zh}。", code=code
        )
    return found
