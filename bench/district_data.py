"""A district's worth of data, written straight into the tables (benchmarks only).

One district, 10 sub-districts, 100 communities; 100,000 members (20,000 residents with
profiles, 80,000 helpers); 300,000 visits over the last year (mostly verified, each
resident visited about as often as their frequency asks, a few late); 1,000,000 ledger
entries (a service credit for every verified visit, and redemptions by the helpers who
earned the hours), with the same digests and hash links the service writes, so ``verify``
accepts them; 20,000 orders around today, and pairings. The product never writes this way;
going through the service would take hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise import connections

from timebank.ledger import chain
from timebank.ledger.models import Phase
from timebank.ledger.rules import Totals
from timebank.people.models import Community, Level
from timebank.people.service import create_community

SERVICES = ["meal_delivery", "cleaning", "companionship", "medical", "bathing", "visit",
            "haircut", "meal_help", "shopping"]  # fmt: skip
HARDSHIP = ["alone,elderly", "dibao", "empty_nest", "tekun,alone", "disability", "", "shidu",
            "dibao,elderly", "", "left_behind"]  # fmt: skip


@dataclass
class District:
    """What was made: ids the benchmark needs."""

    district_id: int
    community_ids: list[int]
    members: int
    visits: int
    entries: int


async def build(
    *,
    communities: int = 100,
    members: int = 100_000,
    residents: int | None = None,
    visits: int = 300_000,
    entries: int = 1_000_000,
    seed: int = 8,
) -> District:
    """Make the district; returns its ids and counts.

    A bulk writer: one pass over the rows, in the order the tables need them; kept in one
    piece so the generated data reads as one story.
    """
    rng = random.Random(seed)
    conn = connections.get("default")
    sqlite = conn.capabilities.dialect == "sqlite"
    now = datetime.now(UTC).replace(microsecond=0)

    def t(value: datetime) -> Any:
        return value.isoformat(sep=" ") if sqlite else value

    def d(value: date) -> Any:
        return value.isoformat() if sqlite else value

    district = await create_community(name="基准区", level=Level.DISTRICT, parent=None)
    ids: list[int] = []
    for s in range(10):
        street = await create_community(
            name=f"第{s + 1}街道", level=Level.SUBDISTRICT, parent=district
        )
        for c in range(communities // 10):
            made = await create_community(
                name=f"第{s + 1}街道第{c + 1}社区", level=Level.COMMUNITY, parent=street
            )
            ids.append(made.id)
    # Most residents are to be visited monthly; those living alone weekly (the profile).
    await Community.filter(id__in=ids).update(visit_every_days=30)

    # Members: residents first in each community, then helpers.
    per = members // len(ids)
    res_per = (residents or members // 5) // len(ids)
    first_id = int((await _one(conn, "SELECT COALESCE(MAX(id), 0) AS n FROM member"))["n"]) + 1
    member_rows, role_rows, profile_rows = [], [], []
    resident_ids: list[tuple[int, int, int]] = []  # member, community, every days
    helper_ids: dict[int, list[int]] = {}
    joined = now - timedelta(days=400)
    for ci, community in enumerate(ids):
        for k in range(per):
            mid = first_id + ci * per + k
            resident = k < res_per
            member_rows.append(
                (mid, f"成员{mid}", str(15_000_000_000 + mid), f"{k + 1:04d}", None, True,
                 t(joined), community, f"{k % 30 + 1} 栋", d(date(1930 + k % 60, 1 + k % 12,
                 1 + k % 28)), None, "", 30.5 + rng.random() / 10, 114.3 + rng.random() / 10)
            )  # fmt: skip
            role_rows.append((mid, "resident" if resident else "helper", community))
            if resident:
                hardship = HARDSHIP[k % len(HARDSHIP)]
                every = 7 if "alone" in hardship else None
                profile_rows.append(
                    (mid, ["self_care", "semi", "disabled"][k % 3], hardship,
                     SERVICES[k % len(SERVICES)], every, "家属", "13000000000", "")
                )  # fmt: skip
                resident_ids.append((mid, community, every or 30))
            else:
                helper_ids.setdefault(community, []).append(mid)
    await bulk_insert(conn, "member", MEMBER, member_rows)
    await bulk_insert(conn, "member_role", ["member_id", "role", "community_id"], role_rows)
    await bulk_insert(conn, "resident_profile", PROFILE, profile_rows)

    # Visits: each resident every (frequency × 0.5–1.2) days, back as far as the total
    # allows (about eight months at full size); a few are late now, a few are open now.
    daily = sum(1 / (every * 0.85) for _, _, every in resident_ids)
    span = min(365.0, 1.1 * visits / daily)
    times: list[tuple[datetime, int, int]] = []  # start, resident, community
    for resident, community, every in resident_ids:
        start = now - timedelta(days=span) + timedelta(days=rng.random() * every)
        while start < now - timedelta(hours=2):
            times.append((start, resident, community))
            start += timedelta(days=every * rng.uniform(0.5, 1.2))
    # Exactly ``visits`` (with the open ones): the oldest beyond that are left out.
    times.sort()
    times = times[max(0, len(times) - (visits - 100)) :]
    visit_rows: list[tuple[Any, ...]] = []
    credits: list[tuple[datetime, int, int, int, int]] = []  # at, visit, helper, community, min
    first_visit = int((await _one(conn, "SELECT COALESCE(MAX(id), 0) AS n FROM visit"))["n"])
    for start, resident, community in times:
        helpers = helper_ids[community]
        vid = first_visit + len(visit_rows) + 1
        minutes = rng.choice((30, 45, 60, 60, 90, 120))
        roll = rng.random()
        status = "verified" if roll < 0.95 else "flagged" if roll < 0.98 else "rejected"
        rating = rng.choice((3, 4, 4, 5, 5, 5)) if rng.random() < 0.6 else None
        helper = helpers[rng.randrange(len(helpers))]
        end = start + timedelta(minutes=minutes)
        paid = rng.random() < 0.05
        visit_rows.append(
            (vid, SERVICES[vid % len(SERVICES)], status, f"b-in-{vid}", f"b-out-{vid}",
             t(start), t(end), t(start), t(end), False, minutes, minutes, minutes,
             "" if status == "verified" else "too_short", True, not paid,
             minutes * 25 * 100 // 60 if paid else None, "pin", 0, rating, "", "",
             community, helper, resident)
        )  # fmt: skip
        if status == "verified" and not paid:
            credits.append((end, vid, helper, community, minutes))
    # A few visits under way now.
    for n in range(100):
        resident, community, _ = resident_ids[n * 37 % len(resident_ids)]
        vid = first_visit + len(visit_rows) + 1
        start = now - timedelta(minutes=20 + n % 40)
        visit_rows.append(
            (vid, "visit", "open", f"b-in-{vid}", None, t(start), None, t(start), None, False,
             None, None, None, "", True, True, None, "", 0, None, "", "", community,
             helper_ids[community][n % len(helper_ids[community])], resident)
        )  # fmt: skip
    await bulk_insert(conn, "visit", VISIT, visit_rows)

    # Orders around today: open, assigned, done; and pairings.
    order_rows = []
    for n in range(20_000):
        resident, community, _ = resident_ids[n % len(resident_ids)]
        starts = now + timedelta(hours=rng.randint(-24 * 14, 24 * 14))
        status = rng.choice(("open", "assigned", "verified", "verified", "cancelled"))
        helper = None if status == "open" else helper_ids[community][n % len(helper_ids[community])]
        order_rows.append(
            (SERVICES[n % len(SERVICES)], t(starts), t(starts + timedelta(hours=1)), "", "",
             status, None, True, "", t(now), community, helper, resident, True)
        )  # fmt: skip
    await bulk_insert(conn, "service_order", ORDER, order_rows)
    pairing_rows = []
    for n in range(0, len(resident_ids), 4):
        resident, community, _ = resident_ids[n]
        pairing_rows.append(
            (community, helper_ids[community][n % len(helper_ids[community])], resident,
             "approved" if n % 40 else "proposed", "hours", "", d(now.date()), t(now), t(now),
             True)
        )  # fmt: skip
    await bulk_insert(conn, "pairing", PAIRING, pairing_rows)

    written = await _ledger(conn, sqlite, t, ids, helper_ids, credits, entries, rng)
    if visit_rows:
        # The verified visits point at their credit (the service sets this at crediting).
        await conn.execute_script(
            "UPDATE visit SET ledger_txn_id = (SELECT t.id FROM ledger_txn t WHERE"
            " t.ref_type = 'visit' AND t.ref_id = CAST(visit.id AS VARCHAR(64)))"
            " WHERE status = 'verified' AND hours = " + ("1" if sqlite else "TRUE")
        )
    return District(district.id, ids, len(member_rows), len(visit_rows), written)


async def _ledger(
    conn: Any,
    sqlite: bool,
    t: Any,
    communities: list[int],
    helper_ids: dict[int, list[int]],
    credits: list[tuple[datetime, int, int, int, int]],
    entries: int,
    rng: random.Random,
) -> int:
    """Accounts, then credits for the verified visits and redemptions, in time order, with
    a valid chain; returns the entries written.

    A bulk writer: one pass over the rows, in the order the tables need them; kept in one
    piece so the generated data reads as one story.
    """
    now = datetime.now(UTC)
    first = int((await _one(conn, "SELECT COALESCE(MAX(id), 0) AS n FROM ledger_account"))["n"])
    accounts: list[tuple[Any, ...]] = []
    fund, sink, wallet = {}, {}, {}
    for community in communities:
        fund[community] = first + len(accounts) + 1
        accounts.append((fund[community], "issuance", None, None, community, None, t(now)))
        sink[community] = first + len(accounts) + 1
        accounts.append((sink[community], "redemption", None, None, community, None, t(now)))
        for helper in helper_ids[community]:
            wallet[helper] = first + len(accounts) + 1
            accounts.append((wallet[helper], "wallet", 0, None, community, helper, t(now)))
    await bulk_insert(
        conn,
        "ledger_account",
        ["id", "kind", "floor", "cap", "community_id", "member_id", "created_at",
         "posted_credits", "posted_debits", "pending_credits", "pending_debits", "version"],
        [(*a, 0, 0, 0, 0, 0) for a in accounts],
    )  # fmt: skip
    # Redemptions: enough to reach ``entries`` (two entries each, as credits), each of some
    # of a helper's hours a few days after they earned them.
    redeems = max(0, entries // 2 - len(credits))
    events: list[tuple[datetime, int, str, int, int, int]] = [
        (at, 0, "visit", visit, helper, minutes) for at, visit, helper, _, minutes in credits
    ]
    # More candidates than needed: one whose helper has no hours left by then is skipped.
    picked = rng.sample(range(len(credits)), min(redeems * 5 // 4, len(credits)))
    for n, index in enumerate(picked):
        at, _, helper, _, minutes = credits[index]
        events.append((at + timedelta(days=rng.randint(1, 20)), 1, "goods", n, helper, minutes))
    events = [e for e in events if e[0] < now]
    events.sort()
    community_of = {h: c for c, hs in helper_ids.items() for h in hs}
    head = await _one(conn, "SELECT seq, hash FROM ledger_head WHERE id = 1")
    last = await _one(conn, "SELECT COALESCE(MAX(id), 0) AS n FROM ledger_txn")
    seq, prev, txn_id = int(head["seq"]), str(head["hash"]), int(last["n"])
    totals: dict[int, Totals] = {}
    txns: list[tuple[Any, ...]] = []
    rows: list[tuple[Any, ...]] = []
    for at, redeem, ref_type, ref, helper, minutes in events:
        community = community_of[helper]
        if redeem:
            mine = totals.setdefault(wallet[helper], Totals(0, 0, 0, 0))
            minutes = min(minutes, mine.available)
            if minutes <= 0 or redeems <= 0:
                continue
            redeems -= 1
            kind, key = "redeem", f"b-redeem-{ref}"
            legs = ((wallet[helper], -minutes), (sink[community], minutes))
        else:
            kind, key = "service_credit", f"visit:{ref}"
            legs = ((fund[community], -minutes), (wallet[helper], minutes))
        txn_id += 1
        request = chain.request_hash({"kind": kind, "ref": ref})
        digest = chain.txn_digest(
            kind=kind, actor_id=None, on_behalf_of_id=None, reason="", ref_type=ref_type,
            ref_id=str(ref), idempotency_key=key, request_hash=request, reverses_id=None,
            resolves_id=None, created_us=chain.micros(at),
        )  # fmt: skip
        txns.append((txn_id, kind, "", ref_type, str(ref), key, request, digest, t(at)))
        for account, delta in legs:
            seq += 1
            total = totals.setdefault(account, Totals(0, 0, 0, 0))
            total.apply(delta, Phase.POSTED)
            link = chain.entry_hash(
                prev_hash=prev, seq=seq, txn_digest=digest, account_id=account, amount=delta,
                phase="posted", balance_after=total.available,
            )  # fmt: skip
            rows.append((seq, txn_id, account, delta, "posted", total.available, prev, link))
            prev = link
    await bulk_insert(conn, "ledger_txn", TXN, txns)
    await bulk_insert(conn, "ledger_entry", ENTRY, rows)
    await bulk_insert(
        conn,
        "bench_totals",
        ["id", "c", "d"],
        [(a, x.posted_credits, x.posted_debits) for a, x in totals.items()],
        create="CREATE TABLE bench_totals (id INT PRIMARY KEY, c BIGINT, d BIGINT)",
    )
    await conn.execute_script(
        "UPDATE ledger_account SET posted_credits = (SELECT c FROM bench_totals b WHERE"
        " b.id = ledger_account.id), posted_debits = (SELECT d FROM bench_totals b WHERE"
        " b.id = ledger_account.id) WHERE id IN (SELECT id FROM bench_totals);"
        " DROP TABLE bench_totals;"
    )
    await conn.execute_query(
        "UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1"
        if sqlite
        else "UPDATE ledger_head SET seq = $1, hash = $2 WHERE id = 1",
        [seq, prev],
    )
    return len(rows)


MEMBER = ["id", "name", "phone", "member_no", "password_hash", "is_active", "created_at",
          "community_id", "address", "birth_date", "consent_at", "languages", "lat",
          "lon"]  # fmt: skip
PROFILE = ["member_id", "care_level", "hardship", "needs", "visit_every_days",
           "emergency_name", "emergency_phone", "notes"]  # fmt: skip
VISIT = ["id", "service_code", "status", "in_event", "out_event", "checked_in_at",
         "checked_out_at", "received_in_at", "received_out_at", "offline", "raw_minutes",
         "served_minutes", "credit_minutes", "flags", "funded", "hours", "pay_fen",
         "confirmed_by", "pin_failures", "rating", "comment", "review_note", "community_id",
         "helper_id", "resident_id"]  # fmt: skip
ORDER = ["service_code", "starts_at", "ends_at", "notes", "address", "status", "placed_by_id",
         "on_behalf", "reason", "created_at", "community_id", "helper_id", "resident_id",
         "funded"]  # fmt: skip
PAIRING = ["community_id", "helper_id", "resident_id", "status", "compensation", "note",
           "started_on", "created_at", "updated_at", "funded"]  # fmt: skip
TXN = ["id", "kind", "reason", "ref_type", "ref_id", "idempotency_key", "request_hash",
       "digest", "created_at"]  # fmt: skip
ENTRY = ["seq", "txn_id", "account_id", "amount", "phase", "balance_after", "prev_hash",
         "hash"]  # fmt: skip
SERIAL = {"member", "visit", "ledger_account", "ledger_txn", "service_order", "pairing",
          "member_role", "resident_profile"}  # fmt: skip


async def _one(conn: Any, sql: str) -> dict[str, Any]:
    return dict((await conn.execute_query_dict(sql))[0])


async def bulk_insert(
    conn: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]], create: str = ""
) -> None:
    """Insert ``rows`` in one go: ``executemany`` in one SQLite transaction, ``COPY`` on
    PostgreSQL (then the id sequence is moved past what was written)."""
    if not rows:
        return
    if conn.capabilities.dialect == "sqlite":
        async with conn.acquire_connection() as db:
            await db.execute("BEGIN IMMEDIATE")
            if create:
                await db.execute(create)
            await db.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                f"({', '.join('?' * len(columns))})",
                [tuple(int(v) if isinstance(v, bool) else v for v in row) for row in rows],
            )
            await db.commit()
        return
    async with conn.acquire_connection() as db:
        if create:
            await db.execute(create)
        await db.copy_records_to_table(table, records=rows, columns=columns)
        if table in SERIAL:
            await db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT MAX(id) FROM {table}))"
            )
