"""Service orders and their history."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from tortoise import fields

from timebank.db.tables import Table, refers_to
from timebank.people.models import Community, Member


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"  # checked in
    COMPLETED = "completed"  # checked out
    VERIFIED = "verified"
    FLAGGED = "flagged"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Order(Table):
    """One visit wanted: placed by a resident or for them, taken by or given to a helper."""

    audit_name: ClassVar[str] = "order"  # its name in the audit log
    community: fields.ForeignKeyRelation[Community] = refers_to("Community", "orders")
    community_id: int
    resident: fields.ForeignKeyRelation[Member] = refers_to("Member", "orders")
    resident_id: int
    helper: fields.ForeignKeyNullableRelation[Member] = refers_to(
        "Member", "orders_taken", null=True
    )
    helper_id: int | None
    service_code = fields.CharField(max_length=30)
    starts_at = fields.DatetimeField(db_index=True)
    ends_at = fields.DatetimeField()
    notes = fields.CharField(max_length=500, default="")
    address = fields.CharField(max_length=200, default="")
    status = fields.CharEnumField(OrderStatus, max_length=12, default=OrderStatus.OPEN)
    placed_by_id = fields.IntField(null=True)  # None: generated from a pairing's plan
    on_behalf = fields.BooleanField(default=False)  # placed by a coordinator for the resident
    funded = fields.BooleanField(default=False)  # the community fund pays, not the resident
    pairing_id = fields.IntField(null=True)
    plan_item_id = fields.IntField(null=True)
    due_on = fields.DateField(null=True)  # the plan's day this order stands for
    reason = fields.CharField(max_length=300, default="")  # why cancelled / no-show / flagged
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "service_order"
        unique_together = (("plan_item_id", "due_on"),)


class OrderEvent(Table):
    """One transition of an order."""

    order: fields.ForeignKeyRelation[Order] = refers_to("Order", "events", on_delete=fields.CASCADE)
    order_id: int
    at = fields.DatetimeField(auto_now_add=True)
    actor_id = fields.IntField(null=True)
    from_status = fields.CharField(max_length=12, default="")
    to_status = fields.CharField(max_length=12)
    helper_id = fields.IntField(null=True)
    reason = fields.CharField(max_length=300, default="")

    class Meta:
        table = "order_event"
