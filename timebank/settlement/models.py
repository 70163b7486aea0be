"""Closed settlement months and their lines."""

from __future__ import annotations

from typing import ClassVar

from tortoise import fields

from timebank.db.tables import Table, refers_to
from timebank.people.models import Community, Member

# Model docstrings become table comments: no semicolons in them.


class SettlementMonth(Table):
    """A community's month closed for paid helpers' pay: no later change reaches it."""

    audit_name: ClassVar[str] = "settlement"  # its name in the audit log
    community: fields.ForeignKeyRelation[Community] = refers_to("Community", "settlements")
    community_id: int
    month = fields.CharField(max_length=7)  # 2026-10
    closed_by_id = fields.IntField()
    closed_at = fields.DatetimeField(auto_now_add=True)
    visits = fields.IntField()
    minutes = fields.IntField()
    amount_fen = fields.BigIntField()

    class Meta:
        table = "settlement_month"
        unique_together = (("community", "month"),)


class SettlementLine(Table):
    """One visit paid in a closed month (a correction when it belongs to an earlier one)."""

    settlement: fields.ForeignKeyRelation[SettlementMonth] = refers_to("SettlementMonth", "lines")
    settlement_id: int
    visit_id = fields.IntField(unique=True)  # a visit is paid once
    helper: fields.ForeignKeyRelation[Member] = refers_to("Member", "settlement_lines")
    helper_id: int
    served_on = fields.DateField()
    minutes = fields.IntField()
    amount_fen = fields.IntField()
    correction = fields.BooleanField(default=False)

    class Meta:
        table = "settlement_line"
