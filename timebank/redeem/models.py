"""What hours can buy in a community, and each redemption of them."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from tortoise import fields

from timebank.db.tables import Table, refers_to
from timebank.people.models import Community, Member

# Model docstrings become table comments, and tortoise's SQLite schema editor splits its
# statements on ";": no semicolons in the docstrings below.


class ItemKind(StrEnum):
    """Goods (爱心超市: rice, oil), a privilege, or a service booked as an order."""

    GOODS = "goods"
    PRIVILEGE = "privilege"
    SERVICE = "service"


class RedeemItem(Table):
    """One thing of a community's redemption catalogue, with its price in minutes."""

    community: fields.ForeignKeyRelation[Community] = refers_to("Community", "redeem_items")
    community_id: int
    kind = fields.CharEnumField(ItemKind, max_length=10)
    name_zh = fields.CharField(max_length=60)
    name_en = fields.CharField(max_length=80)
    price_minutes = fields.IntField()
    stock = fields.IntField(null=True)  # None: no limit
    service_code = fields.CharField(max_length=30, default="")  # kind service: what is booked
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "redeem_item"


class RedemptionStatus(StrEnum):
    """Where a redemption is."""

    TO_HAND_OVER = "to_hand_over"  # goods paid, waiting at the office (核销)
    HANDED_OVER = "handed_over"
    DONE = "done"  # a privilege, used at once
    RESERVED = "reserved"  # a service booked, its hours held
    SERVED = "served"  # the booked service was given, its hours went to the helper
    CANCELLED = "cancelled"  # the booking was cancelled, the hours given back
    EXPIRED = "expired"  # never served, the hours given back


class Redemption(Table):
    """Hours spent by ``member`` for ``beneficiary`` (themself or a family member)."""

    community: fields.ForeignKeyRelation[Community] = refers_to("Community", "redemptions")
    community_id: int
    item: fields.ForeignKeyRelation[RedeemItem] = refers_to("RedeemItem", "redemptions")
    item_id: int
    member: fields.ForeignKeyRelation[Member] = refers_to("Member", "redemptions")
    member_id: int
    beneficiary: fields.ForeignKeyRelation[Member] = refers_to("Member", "redemptions_received")
    beneficiary_id: int
    actor_id = fields.IntField(null=True)
    on_behalf = fields.BooleanField(default=False)  # done by a coordinator for the member
    minutes = fields.IntField()
    status = fields.CharEnumField(RedemptionStatus, max_length=14)
    order_id = fields.IntField(null=True, unique=True)  # the booked service
    handed_over_by_id = fields.IntField(null=True)
    handed_over_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "redemption"
        indexes = (("member_id", "created_at"),)


class GrantSource(StrEnum):
    """Where granted hours come from."""

    FUND = "fund"  # the community fund (兜底)
    POOL = "pool"  # the public pool of donated hours (公益池)


class GrantStatus(StrEnum):
    """A grant is posted at once, or waits for a second coordinator when it is large."""

    PENDING = "pending"
    POSTED = "posted"
    REJECTED = "rejected"


class Grant(Table):
    """Hours a coordinator grants a member, with the reason, and who approved it."""

    audit_name: ClassVar[str] = "grant"  # its name in the audit log
    community: fields.ForeignKeyRelation[Community] = refers_to("Community", "grants")
    community_id: int
    member: fields.ForeignKeyRelation[Member] = refers_to("Member", "grants")
    member_id: int
    source = fields.CharEnumField(GrantSource, max_length=6)
    minutes = fields.IntField()
    reason = fields.CharField(max_length=300)
    status = fields.CharEnumField(GrantStatus, max_length=10)
    requested_by_id = fields.IntField()
    decided_by_id = fields.IntField(null=True)
    decided_at = fields.DatetimeField(null=True)
    decision_note = fields.CharField(max_length=300, default="")
    ledger_txn_id = fields.IntField(null=True)
    key = fields.CharField(max_length=100, unique=True)  # the request's idempotency key
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "grant_request"
