"""The audit log is append-only, enforced by the database like the ledger (see 0003).

Written by hand: trigger bodies contain ";". PostgreSQL reuses ``ledger_refuse_change()``.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

TABLE = "audit_event"


async def install(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script(
            f"CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        await client.execute_script(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
        )
    else:
        for op in ("UPDATE", "DELETE"):
            await client.execute_query(
                f"CREATE TRIGGER {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {op} refused'); END"
            )


async def uninstall(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script(f"DROP TRIGGER {TABLE}_no_change ON {TABLE}")
        await client.execute_script(f"DROP TRIGGER {TABLE}_no_truncate ON {TABLE}")
    else:
        for op in ("update", "delete"):
            await client.execute_query(f"DROP TRIGGER {TABLE}_no_{op}")


class Migration(migrations.Migration):
    dependencies = [("timebank", "0007_people_profiles")]

    operations = [ops.RunPython(install, uninstall)]
