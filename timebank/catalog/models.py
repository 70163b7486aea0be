"""Service types, per community, editable by coordinators."""

from __future__ import annotations

from tortoise import fields

from timebank.db.tables import Table, refers_to
from timebank.people.models import Community


class ServiceType(Table):
    """One kind of help a community offers (助餐, 助浴 …)."""

    community: fields.ForeignKeyRelation[Community] = refers_to(
        "Community", "service_types", on_delete=fields.CASCADE
    )
    community_id: int
    code = fields.CharField(max_length=30)
    name_zh = fields.CharField(max_length=40)
    name_en = fields.CharField(max_length=60)
    typical_minutes = fields.IntField(default=60)
    max_minutes = fields.IntField(default=120)
    min_minutes = fields.IntField(default=10)  # a shorter visit is flagged for review
    # Hours credited per hour served, in thousandths (1000 = 1.0).
    multiplier_milli = fields.IntField(default=1000)
    needs_confirmation = fields.BooleanField(default=False)
    # A group activity: where the community says so, its hours may be given, not redeemed.
    group_activity = fields.BooleanField(default=False)
    active = fields.BooleanField(default=True)

    class Meta:
        table = "service_type"
        unique_together = (("community", "code"),)
