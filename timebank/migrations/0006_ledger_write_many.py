"""PostgreSQL: many ledger transfers in one statement, one round trip and one commit.

``_GroupCommit`` gathers the concurrent transfers of a process; sent one ``ledger_write``
at a time inside a transaction, the chain head stayed locked for a network round trip per
transfer. ``ledger_write_many`` takes the whole batch as a JSON array and calls
``ledger_write`` for each in order, so the lock is held only while the server works. Each
call runs in its own subtransaction: one that fails (a foreign key, say) is reported as
``status = 'error'`` with its SQLSTATE and message, and the others still commit.
Written by hand (RunPython) for the same reason as 0004: the body contains ";".
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

FUNCTION = r"""
CREATE OR REPLACE FUNCTION ledger_write_many(p_calls json)
RETURNS TABLE (ord int, status text, txn_id int, detail json)
LANGUAGE plpgsql AS $fn$
DECLARE
    c json;
    i int := 0;
    r record;
BEGIN
    FOR c IN SELECT value FROM json_array_elements(p_calls) LOOP
        i := i + 1;
        BEGIN
            SELECT * INTO r FROM ledger_write(
                c->>0, c->>1, c->>2, (c->>3)::int, (c->>4)::int, c->>5, c->>6, c->>7,
                c->>8, (c->>9)::timestamptz,
                ARRAY(SELECT x::int FROM json_array_elements_text(c->10) x),
                ARRAY(SELECT x::bigint FROM json_array_elements_text(c->11) x),
                ARRAY(SELECT x FROM json_array_elements_text(c->12) x));
            ord := i; status := r.status; txn_id := r.txn_id; detail := r.detail;
        EXCEPTION WHEN OTHERS THEN
            ord := i; status := 'error'; txn_id := NULL;
            detail := json_build_object('sqlstate', SQLSTATE, 'message', SQLERRM);
        END;
        RETURN NEXT;
    END LOOP;
END
$fn$
"""


async def install(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script(FUNCTION)


async def uninstall(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script("DROP FUNCTION ledger_write_many(json)")


class Migration(migrations.Migration):
    dependencies = [("timebank", "0005_sessions")]

    operations = [ops.RunPython(install, uninstall)]
