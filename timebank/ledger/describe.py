"""What a passbook line is about, in words: for whom, which service, from whom.

A movement's kind ("服务所得") and amount do not tell a helper which visit it paid for, nor
an elder where a grant came from. This reads what the line refers to (a visit, a
redemption) or the other side of the transaction (the community fund, a relative) and says
it in the reader's language: "为 陈秀英 上门理发", "来自 社区补贴".

Read-only, for the ledger's pages: the ledger's core still knows no other feature.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from timebank import db
from timebank.labels import SERVICE_NAMES
from timebank.ledger.queries import StatementLine

Translate = Callable[[str], str]


def _(message: str) -> str:
    """Marks ``message`` for the catalog; ``translate`` turns it into the reader's words."""
    return message


# The other side of a movement, when it is not a person.
OTHER_SIDE = {
    "issuance": _("Community subsidy"),
    "pool": _("Public pool"),
}


def _ids(lines: Sequence[StatementLine], ref_type: str) -> list[int]:
    found = {int(x.ref_id) for x in lines if x.ref_type == ref_type and x.ref_id.isdigit()}
    return sorted(i for i in found if i < 2**31)


def _marks(ids: Sequence[int]) -> str:
    return ", ".join("?" * len(ids))


async def _visits(ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await db.fetch(
        "SELECT v.id, v.resident_id, v.helper_id, v.service_code, r.name AS resident,"
        " h.name AS helper, s.name_zh, s.name_en FROM visit v"
        " JOIN member r ON r.id = v.resident_id JOIN member h ON h.id = v.helper_id"
        " LEFT JOIN service_type s ON s.community_id = v.community_id"
        f" AND s.code = v.service_code WHERE v.id IN ({_marks(ids)})",
        *ids,
    )
    return {int(r["id"]): r for r in rows}


async def _redemptions(ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await db.fetch(
        "SELECT x.id, x.beneficiary_id, b.name AS beneficiary, i.name_zh, i.name_en"
        " FROM redemption x JOIN redeem_item i ON i.id = x.item_id"
        f" JOIN member b ON b.id = x.beneficiary_id WHERE x.id IN ({_marks(ids)})",
        *ids,
    )
    return {int(r["id"]): r for r in rows}


async def _other_sides(lines: Sequence[StatementLine], account_id: int) -> dict[int, str]:
    """Per transaction, who is on the other side: a member's name or a fund's code."""
    txns = sorted({x.txn_id for x in lines})
    if not txns:
        return {}
    rows = await db.fetch(
        "SELECT e.txn_id, a.kind, COALESCE(m.name, '') AS name FROM ledger_entry e"
        " JOIN ledger_account a ON a.id = e.account_id LEFT JOIN member m ON m.id = a.member_id"
        f" WHERE e.txn_id IN ({_marks(txns)}) AND e.account_id <> ? ORDER BY e.seq",
        *txns,
        account_id,
    )
    found: dict[int, str] = {}
    for r in rows:
        found.setdefault(int(r["txn_id"]), r["name"] or f"@{r['kind']}")
    return found


def _named(row: dict[str, Any], lang: str) -> str:
    return str((row["name_en"] if lang == "en" else row["name_zh"]) or "")


def _visit_words(v: dict[str, Any], owner: int | None, lang: str, t: Translate) -> str:
    # A community whose catalog was never opened has no row yet: the default name.
    code = str(v["service_code"])
    service = _named(v, lang) or t(SERVICE_NAMES.get(code, _("a service")))
    if owner == v["helper_id"]:
        words = t(_("%(service)s for %(resident)s"))
        return words % {"service": service, "resident": v["resident"]}
    if owner == v["resident_id"]:
        return t(_("%(service)s by %(helper)s")) % {"service": service, "helper": v["helper"]}
    words = t(_("%(service)s by %(helper)s for %(resident)s"))
    return words % {"service": service, "helper": v["helper"], "resident": v["resident"]}


def _other_words(line: StatementLine, other: str, t: Translate) -> str:
    if other.startswith("@"):
        code = other[1:]
        if code not in OTHER_SIDE:
            return ""
        other = t(OTHER_SIDE[code])
    return (t(_("from %(who)s")) if line.amount > 0 else t(_("to %(who)s"))) % {"who": other}


async def describe(
    lines: Sequence[StatementLine], *, account_id: int, owner: int | None, lang: str,
    translate: Translate,
) -> dict[int, str]:  # fmt: skip
    """Per line (by seq), what it is about in ``lang``; lines with nothing to add are left out."""
    visits = await _visits(_ids(lines, "visit"))
    redemptions = await _redemptions(_ids(lines, "redemption"))
    others = await _other_sides(lines, account_id)
    words: dict[int, str] = {}
    for line in lines:
        text = ""
        ref = int(line.ref_id) if line.ref_id.isdigit() and len(line.ref_id) < 11 else 0
        if line.ref_type == "visit" and ref in visits:
            text = _visit_words(visits[ref], owner, lang, translate)
        elif line.ref_type == "redemption" and ref in redemptions:
            found = redemptions[ref]
            text = _named(found, lang)
            if found["beneficiary_id"] != owner:
                text = translate(_("%(item)s for %(who)s")) % {
                    "item": text,
                    "who": found["beneficiary"],
                }
        elif line.txn_id in others:
            text = _other_words(line, others[line.txn_id], translate)
        if text:
            words[line.seq] = text
    return words
