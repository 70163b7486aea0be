"""The database itself keeps the ledger append-only, and the chain starts at genesis.

Written by hand: trigger bodies contain ";", which tortoise's SQL splitting would cut, so
each statement goes to the client whole.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

GENESIS = "0" * 64
APPEND_ONLY = ("ledger_txn", "ledger_entry", "ledger_checkpoint")


def _sqlite_statements():
    for table in APPEND_ONLY:
        for op in ("UPDATE", "DELETE"):
            yield (
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
            )


def _postgres_statements():
    yield (
        "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; "
        "END $$"
    )
    for table in APPEND_ONLY:
        yield (
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        yield (
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
        )


# One wallet per member, one system account of each kind per community. A plain unique
# index cannot say this: NULL members never compare equal.
ACCOUNT_INDEXES = (
    "CREATE UNIQUE INDEX ledger_account_one_wallet ON ledger_account (member_id) "
    "WHERE kind = 'wallet'",
    "CREATE UNIQUE INDEX ledger_account_one_system ON ledger_account (community_id, kind) "
    "WHERE member_id IS NULL",
)


async def install(apps, schema_editor):
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    for statement in ACCOUNT_INDEXES:
        await client.execute_query(statement)
    for statement in _postgres_statements() if postgres else _sqlite_statements():
        await client.execute_script(statement) if postgres else await client.execute_query(
            statement
        )
    await client.execute_query(
        "INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, '%s')" % GENESIS
    )


async def uninstall(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        for table in APPEND_ONLY:
            await client.execute_script(f"DROP TRIGGER {table}_no_change ON {table}")
            await client.execute_script(f"DROP TRIGGER {table}_no_truncate ON {table}")
        await client.execute_script("DROP FUNCTION ledger_refuse_change()")
    else:
        for table in APPEND_ONLY:
            for op in ("update", "delete"):
                await client.execute_query(f"DROP TRIGGER {table}_no_{op}")
    await client.execute_query("DELETE FROM ledger_head")
    await client.execute_query("DROP INDEX ledger_account_one_wallet")
    await client.execute_query("DROP INDEX ledger_account_one_system")


class Migration(migrations.Migration):
    dependencies = [("timebank", "0002_ledger")]

    operations = [ops.RunPython(install, uninstall)]
