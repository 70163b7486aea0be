"""Closed settlement months and their lines."""

from __future__ import annotations

from typing import ClassVar

from tortoise import fields
from tortoise.models import Model

from timebank.people.models import Community, Member

# Model docstrings become table comments: no semicolons in them.


class SettlementMonth(Model):
    """A community's month closed for paid helpers' pay: no later change reaches it."""

    audit_name: ClassVar[str] = "settlement"  # its name in the audit log
    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "timebank.Community", related_name="settlements", on_delete=fields.RESTRICT
    )
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


class SettlementLine(Model):
    """One visit paid in a closed month (a correction when it belongs to an earlier one)."""

    id = fields.IntField(primary_key=True)
    settlement: fields.ForeignKeyRelation[SettlementMonth] = fields.ForeignKeyField(
        "timebank.SettlementMonth", related_name="lines", on_delete=fields.RESTRICT
    )
    settlement_id: int
    visit_id = fields.IntField(unique=True)  # a visit is paid once
    helper: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "timebank.Member", related_name="settlement_lines", on_delete=fields.RESTRICT
    )
    helper_id: int
    served_on = fields.DateField()
    minutes = fields.IntField()
    amount_fen = fields.IntField()
    correction = fields.BooleanField(default=False)

    class Meta:
        table = "settlement_line"
