"""Pairings, their history, and their visit plans."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from timebank.db.tables import Table, refers_to
from timebank.people.models import Community, Member


class PairingStatus(StrEnum):
    """Where a pairing is in its life."""

    PROPOSED = "proposed"
    APPROVED = "approved"  # active
    SUSPENDED = "suspended"
    ENDED = "ended"
    REJECTED = "rejected"


class Compensation(StrEnum):
    """How the helper is rewarded for the visits."""

    HOURS = "hours"  # time-bank hours
    PAID = "paid"  # paid by the hour (困困结对)
    BOTH = "both"


class Pairing(Table):
    """A helper serving a resident, approved by a coordinator."""

    community: fields.ForeignKeyRelation[Community] = refers_to("Community", "pairings")
    community_id: int
    helper: fields.ForeignKeyRelation[Member] = refers_to("Member", "pairings_as_helper")
    helper_id: int
    resident: fields.ForeignKeyRelation[Member] = refers_to("Member", "pairings_as_resident")
    resident_id: int
    status = fields.CharEnumField(PairingStatus, max_length=12, default=PairingStatus.PROPOSED)
    compensation = fields.CharEnumField(Compensation, max_length=8, default=Compensation.HOURS)
    funded = fields.BooleanField(default=True)  # the community fund pays the hours (兜底)
    proposed_by_id = fields.IntField(null=True)
    approved_by_id = fields.IntField(null=True)
    started_on = fields.DateField(null=True)  # the day it was approved: plans count from here
    note = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "pairing"
        indexes = (("resident_id", "status"),)


class PairingEvent(Table):
    """One transition of a pairing: who, when, from what to what, and why."""

    pairing: fields.ForeignKeyRelation[Pairing] = refers_to(
        "Pairing", "events", on_delete=fields.CASCADE
    )
    pairing_id: int
    at = fields.DatetimeField(auto_now_add=True)
    actor_id = fields.IntField(null=True)
    from_status = fields.CharField(max_length=12, default="")
    to_status = fields.CharField(max_length=12)
    reason = fields.CharField(max_length=300, default="")

    class Meta:
        table = "pairing_event"


class PlanItem(Table):
    """A recurring visit of a pairing's plan: a service, every N days, at a time of day."""

    pairing: fields.ForeignKeyRelation[Pairing] = refers_to(
        "Pairing", "plan", on_delete=fields.CASCADE
    )
    pairing_id: int
    service_code = fields.CharField(max_length=30)
    every_days = fields.IntField(default=7)
    start_minute = fields.IntField(default=9 * 60)  # local time of day, minutes after 0:00
    duration_minutes = fields.IntField(default=60)
    active = fields.BooleanField(default=True)

    class Meta:
        table = "plan_item"
