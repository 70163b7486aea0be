"""SQLite client whose write transactions start with ``BEGIN IMMEDIATE``.

tortoise opens transactions with a deferred ``BEGIN``: the write lock is only requested at
the first write, and when another process holds it SQLite fails at once with "database is
locked" instead of waiting (a reader cannot upgrade to a writer without risking deadlock,
so the busy timeout does not apply). ``BEGIN IMMEDIATE`` takes the write lock up front, where
the busy timeout does apply, so concurrent writers queue instead of failing.
"""

from __future__ import annotations

import sqlite3

from tortoise.backends.base.client import TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
    translate_exceptions,
)
from tortoise.exceptions import TransactionManagementError

__all__ = ["ImmediateSqliteClient", "client_class"]


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    """A transaction that holds the database write lock from its first statement."""

    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class ImmediateSqliteClient(SqliteClient):
    """The SQLite client timebank uses (engine ``timebank.db.sqlite``)."""

    def _in_transaction(self) -> TransactionContext:
        return SqliteTransactionContext(ImmediateTransactionWrapper(self), self._lock)

    @translate_exceptions
    async def execute_many(self, query: str, values: list[list[object]]) -> None:
        async with self.acquire_connection() as connection:
            await connection.execute("BEGIN IMMEDIATE")
            try:
                await connection.executemany(query, values)
            except Exception:
                await connection.rollback()
                raise
            else:
                await connection.commit()


client_class = ImmediateSqliteClient
