"""Placards in residents' homes and the visits checked in and out by scanning them."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from timebank.db.tables import Table, one_of, refers_to
from timebank.people.models import Community, Member

# Model docstrings become table comments, and tortoise's SQLite schema editor splits its
# statements on ";": no semicolons in the docstrings below.


class Placard(Table):
    """The QR placard of one resident: its generation and the resident's confirmation PIN."""

    resident: fields.OneToOneRelation[Member] = one_of("Member", "placard")
    resident_id: int
    generation = fields.IntField(default=1)  # bumped on reissue: older placards stop working
    pin_hash = fields.CharField(max_length=200, default="")  # empty: no PIN set
    issued_at = fields.DatetimeField(auto_now_add=True)
    issued_by_id = fields.IntField(null=True)

    class Meta:
        table = "placard"


class VisitStatus(StrEnum):
    """Where a visit is: under way, verified (hours credited), waiting for review, refused."""

    OPEN = "open"
    VERIFIED = "verified"
    FLAGGED = "flagged"
    REJECTED = "rejected"


class Flag(StrEnum):
    """Why a visit waits for a coordinator instead of being verified at once."""

    OUTSIDE_WINDOW = "outside_window"
    TOO_FAR = "too_far"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    DAILY_CAP = "daily_cap"
    OVERLAP = "overlap"
    UNCONFIRMED = "unconfirmed"
    OFFLINE = "offline"
    AUTO_CLOSED = "auto_closed"
    NO_HOURS = "no_hours"  # the resident's wallet could not pay


class Visit(Table):
    """One service at a resident's home, from check-in to check-out and verification."""

    community: fields.ForeignKeyRelation[Community] = refers_to("Community", "visits")
    community_id: int
    resident: fields.ForeignKeyRelation[Member] = refers_to("Member", "visits_received")
    resident_id: int
    helper: fields.ForeignKeyRelation[Member] = refers_to("Member", "visits_given")
    helper_id: int
    order_id = fields.IntField(null=True, unique=True)  # one visit per order
    pairing_id = fields.IntField(null=True)
    service_code = fields.CharField(max_length=30)
    status = fields.CharEnumField(VisitStatus, max_length=10, default=VisitStatus.OPEN)
    # The helper's id while the visit is open, else NULL: one open visit per helper.
    open_helper_id = fields.IntField(null=True, unique=True)
    in_event = fields.CharField(max_length=64, unique=True)  # client-made ids: retries are safe
    out_event = fields.CharField(max_length=64, null=True, unique=True)
    checked_in_at = fields.DatetimeField(db_index=True)  # server time, or offline client time
    checked_out_at = fields.DatetimeField(null=True)
    received_in_at = fields.DatetimeField()  # when the server got the check-in
    received_out_at = fields.DatetimeField(null=True)
    client_in_at = fields.DatetimeField(null=True)  # the phone's clock, as sent
    client_out_at = fields.DatetimeField(null=True)
    in_lat = fields.FloatField(null=True)
    in_lon = fields.FloatField(null=True)
    in_distance_m = fields.IntField(null=True)
    out_lat = fields.FloatField(null=True)
    out_lon = fields.FloatField(null=True)
    out_distance_m = fields.IntField(null=True)
    offline = fields.BooleanField(default=False)
    raw_minutes = fields.IntField(null=True)  # as measured
    served_minutes = fields.IntField(null=True)  # rounded to the unit, capped at the maximum
    credit_minutes = fields.IntField(null=True)  # served × the service's multiplier
    flags = fields.CharField(max_length=200, default="")  # comma-separated Flag values
    funded = fields.BooleanField(default=True)  # the community fund pays, else the resident
    hours = fields.BooleanField(default=True)  # the helper earns time-bank hours
    pay_fen = fields.IntField(null=True)  # what a paid helper is owed for it
    confirmed_by = fields.CharField(max_length=10, default="")  # "", "pin" or "rating"
    pin_failures = fields.IntField(default=0)
    rating = fields.IntField(null=True)  # 1 to 5 (满意度)
    comment = fields.CharField(max_length=300, default="")
    rated_by_id = fields.IntField(null=True)
    rated_at = fields.DatetimeField(null=True)
    reviewed_by_id = fields.IntField(null=True)
    reviewed_at = fields.DatetimeField(null=True)
    review_note = fields.CharField(max_length=300, default="")
    ledger_txn_id = fields.IntField(null=True)

    class Meta:
        table = "visit"
        indexes = (
            ("helper_id", "checked_in_at"),
            # The review queue (status, community) and the reports: covers every column the
            # monthly figures and charts read, so a month is read from the index alone.
            ("status", "community_id", "checked_in_at", "service_code", "served_minutes",
             "rating", "resident_id", "helper_id", "pay_fen"),
            ("resident_id", "status", "checked_in_at"),  # a resident's last verified visit
        )  # fmt: skip
