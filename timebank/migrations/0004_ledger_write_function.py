"""PostgreSQL: one server-side call that appends a transfer to the ledger.

A ledger write holds the chain head's lock from the moment it takes it until it commits;
done from Python that is four network round trips, which caps PostgreSQL at a few hundred
writes a second on two cores. This function does the locked part in the server: lock the
head, check the idempotency key, lock the accounts in id order, apply the legs, check
floors and caps, insert the transaction and its hash-linked entries, update the totals and
the head. Called as one statement in autocommit, the lock is held only while it runs.

The rules are the same as ``timebank.ledger.rules`` and the hashes the same bytes as
``timebank.ledger.chain.entry_hash``; ``verify`` (in Python) recomputes every hash, and the
tests run the same operations through both paths. Written by hand (RunPython): the body
contains ";", which tortoise's SQL splitting would cut.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

FUNCTION = r"""
CREATE OR REPLACE FUNCTION ledger_write(
    p_key text, p_request_hash text, p_kind text, p_actor int, p_on_behalf int,
    p_reason text, p_ref_type text, p_ref_id text, p_digest text, p_created timestamptz,
    p_accounts int[], p_amounts bigint[], p_phases text[]
) RETURNS TABLE (status text, txn_id int, detail json)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    head_seq bigint;
    head_hash text;
    prior record;
    ids int[];
    kinds text[];
    floors bigint[];
    caps bigint[];
    versions int[];
    pc bigint[]; pd bigint[]; prc bigint[]; prd bigint[];
    pc0 bigint[]; pd0 bigint[]; prd0 bigint[];
    balances bigint[] := '{}';
    k int;
    j int;
    amount bigint;
    new_txn int;
    link text;
    updated int;
BEGIN
    SELECT h.seq, h.hash INTO head_seq, head_hash FROM ledger_head h WHERE h.id = 1 FOR UPDATE;
    -- Read after the lock is ours: this statement sees every transaction committed before.
    SELECT t.id, t.request_hash, t.kind, t.reverses_id, t.resolves_id, t.ref_type, t.ref_id,
           t.created_at
      INTO prior FROM ledger_txn t WHERE t.idempotency_key = p_key;
    IF FOUND THEN
        IF prior.request_hash <> p_request_hash THEN
            RETURN QUERY SELECT 'key_reused'::text, prior.id, NULL::json;
        ELSE
            RETURN QUERY SELECT 'replay'::text, prior.id,
                json_build_object('kind', prior.kind, 'reverses_id', prior.reverses_id,
                                  'resolves_id', prior.resolves_id, 'ref_type', prior.ref_type,
                                  'ref_id', prior.ref_id, 'created_at', prior.created_at);
        END IF;
        RETURN;
    END IF;

    SELECT array_agg(a.id ORDER BY a.id), array_agg(a.kind ORDER BY a.id),
           array_agg(a.floor ORDER BY a.id), array_agg(a.cap ORDER BY a.id),
           array_agg(a.version ORDER BY a.id),
           array_agg(a.posted_credits ORDER BY a.id), array_agg(a.posted_debits ORDER BY a.id),
           array_agg(a.pending_credits ORDER BY a.id), array_agg(a.pending_debits ORDER BY a.id)
      INTO ids, kinds, floors, caps, versions, pc, pd, prc, prd
      FROM (SELECT * FROM ledger_account
             WHERE id = ANY(p_accounts) ORDER BY id FOR UPDATE) a;
    IF ids IS NULL OR array_length(ids, 1) <> (SELECT count(DISTINCT x) FROM unnest(p_accounts) x)
    THEN
        RETURN QUERY SELECT 'unknown_account'::text, NULL::int, NULL::json;
        RETURN;
    END IF;
    pc0 := pc; pd0 := pd; prd0 := prd;

    FOR j IN 1 .. array_length(p_accounts, 1) LOOP
        k := array_position(ids, p_accounts[j]);
        amount := p_amounts[j];
        IF p_phases[j] = 'posted' THEN
            IF amount > 0 THEN pc[k] := pc[k] + amount; ELSE pd[k] := pd[k] - amount; END IF;
        ELSIF p_phases[j] = 'pending' THEN
            IF amount < 0 THEN prd[k] := prd[k] - amount; ELSE prc[k] := prc[k] + amount; END IF;
        ELSE
            IF amount > 0 THEN prd[k] := prd[k] - amount; ELSE prc[k] := prc[k] + amount; END IF;
        END IF;
        balances := balances || (pc[k] - pd[k] - prd[k]);
    END LOOP;

    FOR k IN 1 .. array_length(ids, 1) LOOP
        -- Only a change that makes things worse is refused (as in rules.check_limits).
        IF floors[k] IS NOT NULL
           AND pc[k] - pd[k] - prd[k] < pc0[k] - pd0[k] - prd0[k]
           AND pc[k] - pd[k] - prd[k] < floors[k] THEN
            RETURN QUERY SELECT 'floor'::text, ids[k],
                json_build_object('available', pc0[k] - pd0[k] - prd0[k], 'kind', kinds[k],
                                  'floor', floors[k]);
            RETURN;
        END IF;
        IF caps[k] IS NOT NULL AND pc[k] - pd[k] > pc0[k] - pd0[k] AND pc[k] - pd[k] > caps[k]
        THEN
            RETURN QUERY SELECT 'cap'::text, ids[k], json_build_object('cap', caps[k]);
            RETURN;
        END IF;
    END LOOP;

    INSERT INTO ledger_txn (kind, actor_id, on_behalf_of_id, reason, ref_type, ref_id,
                            idempotency_key, request_hash, reverses_id, resolves_id, digest,
                            created_at)
    VALUES (p_kind, p_actor, p_on_behalf, p_reason, p_ref_type, p_ref_id, p_key,
            p_request_hash, NULL, NULL, p_digest, p_created)
    RETURNING id INTO new_txn;

    FOR j IN 1 .. array_length(p_accounts, 1) LOOP
        head_seq := head_seq + 1;
        -- The same bytes as timebank.ledger.chain.entry_hash.
        link := encode(sha256(convert_to(
            head_hash || E'\n' || format(
                '{"account":%s,"amount":%s,"balance_after":%s,"phase":"%s","seq":%s,"txn":"%s"}',
                p_accounts[j], p_amounts[j], balances[j], p_phases[j], head_seq, p_digest),
            'UTF8')), 'hex');
        INSERT INTO ledger_entry (seq, txn_id, account_id, amount, phase, balance_after,
                                  prev_hash, hash)
        VALUES (head_seq, new_txn, p_accounts[j], p_amounts[j], p_phases[j], balances[j],
                head_hash, link);
        head_hash := link;
    END LOOP;

    UPDATE ledger_account AS acc
       SET posted_credits = v.pc, posted_debits = v.pd, pending_credits = v.prc,
           pending_debits = v.prd, version = acc.version + 1
      FROM unnest(ids, pc, pd, prc, prd, versions) AS v(id, pc, pd, prc, prd, version)
     WHERE acc.id = v.id AND acc.version = v.version;
    GET DIAGNOSTICS updated = ROW_COUNT;
    IF updated <> array_length(ids, 1) THEN
        RAISE EXCEPTION 'ledger accounts changed underneath';
    END IF;
    UPDATE ledger_head SET seq = head_seq, hash = head_hash WHERE id = 1;
    RETURN QUERY SELECT 'created'::text, new_txn, NULL::json;
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
        await client.execute_script(
            "DROP FUNCTION ledger_write(text, text, text, int, int, text, text, text, text,"
            " timestamptz, int[], bigint[], text[])"
        )


class Migration(migrations.Migration):
    dependencies = [("timebank", "0003_ledger_guards")]

    operations = [ops.RunPython(install, uninstall)]
