"""Communities (区 → 街道/镇 → 社区/村), members and the roles they hold."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from timebank.db.tables import Table, one_of, refers_to


class Level(StrEnum):
    """Where a community sits in the civil-affairs hierarchy."""

    DISTRICT = "district"  # 区
    SUBDISTRICT = "subdistrict"  # 街道 / 镇
    COMMUNITY = "community"  # 社区 / 村


class Role(StrEnum):
    """What a member may do; a member may hold several."""

    HELPER = "helper"  # 志愿者 / 结对帮扶人
    RESIDENT = "resident"  # 服务对象
    COORDINATOR = "coordinator"  # 社区协调员 / 社工
    ADMIN = "admin"  # district-wide


# Model docstrings become table comments, and tortoise's SQLite schema editor splits its
# statements on ";": a semicolon in a model docstring breaks the migration.


class Community(Table):
    """A district, sub-district/town or community/village."""

    name = fields.CharField(max_length=100)
    level = fields.CharEnumField(Level, max_length=12)
    parent: fields.ForeignKeyNullableRelation[Community] = refers_to(
        "Community", "children", null=True
    )
    parent_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    # Settings (a community's own rules), in minutes where they are amounts of time.
    overdraft_minutes = fields.IntField(default=0)  # how far a wallet may go below zero
    balance_cap_minutes = fields.IntField(null=True)  # e.g. 90000 (Nanjing's 1,500 h)
    daily_cap_minutes = fields.IntField(null=True)  # most a helper may earn in one day
    redeem_min_age = fields.IntField(default=60)  # redemption age gate, in years
    visit_every_days = fields.IntField(default=7)  # default required visit frequency
    visit_radius_m = fields.IntField(default=250)  # check-in geofence
    four_eyes = fields.BooleanField(default=False)  # approvals by a second coordinator
    time_unit_minutes = fields.IntField(default=15)  # visits are rounded to this
    checkin_early_minutes = fields.IntField(default=30)  # check-in may start this early
    checkin_late_minutes = fields.IntField(default=60)  # and end this late
    redeem_daily_minutes = fields.IntField(null=True)  # most a member may redeem in a day
    redeem_monthly_minutes = fields.IntField(null=True)  # and in a month
    grant_review_minutes = fields.IntField(null=True)  # larger grants need a 2nd coordinator
    group_hours_donate_only = fields.BooleanField(default=False)  # group hours: give, not spend
    fund_budget_minutes = fields.IntField(null=True)  # the most the fund may hand out, in all

    class Meta:
        table = "community"
        unique_together = (("parent", "name"),)


class Member(Table):
    """A person known to the time bank, signing in with their phone number."""

    community: fields.ForeignKeyRelation[Community] = refers_to("Community", "members")
    community_id: int
    name = fields.CharField(max_length=60)
    phone = fields.CharField(max_length=20, unique=True)
    # Short per-community number printed on paper cards, like a passbook number.
    member_no = fields.CharField(max_length=12)
    password_hash = fields.CharField(max_length=200, null=True)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    birth_date = fields.DateField(null=True)
    address = fields.CharField(max_length=200, default="")
    lat = fields.FloatField(null=True)  # for visit geofencing, when known
    lon = fields.FloatField(null=True)
    languages = fields.CharField(max_length=100, default="")  # comma-separated codes
    consent_at = fields.DatetimeField(null=True)  # consent to the use of their data
    # 长辈版: larger text and targets on their pages, remembered across devices.
    elder_mode = fields.BooleanField(default=False)

    roles: fields.ReverseRelation[MemberRole]

    class Meta:
        table = "member"
        unique_together = (("community", "member_no"),)


class MemberRole(Table):
    """A role held by a member, coordinators holding theirs for one community."""

    member: fields.ForeignKeyRelation[Member] = refers_to(
        "Member", "roles", on_delete=fields.CASCADE
    )
    member_id: int
    role = fields.CharEnumField(Role, max_length=12)
    community: fields.ForeignKeyNullableRelation[Community] = refers_to(
        "Community", "role_holders", null=True
    )
    community_id: int | None

    class Meta:
        table = "member_role"
        unique_together = (("member", "role", "community"),)


class Session(Model):
    """A signed-in browser or app, referenced by a signed cookie, revoked on sign-out."""

    id = fields.CharField(max_length=64, primary_key=True)
    member: fields.ForeignKeyRelation[Member] = refers_to(
        "Member", "sessions", on_delete=fields.CASCADE
    )
    member_id: int
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    ip = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=200, default="")

    class Meta:
        table = "member_session"


class SignInAttempt(Table):
    """A password sign-in attempt, kept to slow down guessing per phone and per address."""

    phone = fields.CharField(max_length=20, db_index=True)
    ip = fields.CharField(max_length=64, db_index=True)
    succeeded = fields.BooleanField()
    at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "signin_attempt"


class CareLevel(StrEnum):
    """How much help a resident needs with daily living."""

    SELF_CARE = "self_care"  # 自理
    SEMI = "semi"  # 半失能
    DISABLED = "disabled"  # 失能


class Hardship(StrEnum):
    """Hardship categories a resident may be in (several at once)."""

    DIBAO = "dibao"  # 低保
    TEKUN = "tekun"  # 特困
    ALONE = "alone"  # 独居
    EMPTY_NEST = "empty_nest"  # 空巢
    LEFT_BEHIND = "left_behind"  # 留守
    ELDERLY = "elderly"  # 高龄
    DISABILITY = "disability"  # 残疾
    SHIDU = "shidu"  # 失独
    GUGUA = "gugua"  # 孤寡


class HelperKind(StrEnum):
    """A volunteer earns hours; a paired helper (困困结对) is also paid by the hour."""

    VOLUNTEER = "volunteer"
    PAID = "paid"


class Relation(StrEnum):
    """What the relative is to the member."""

    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    SIBLING = "sibling"
    GRANDCHILD = "grandchild"
    GRANDPARENT = "grandparent"
    OTHER = "other"


class ResidentProfile(Table):
    """What a resident needs: care level, hardship, services, how often to visit."""

    member: fields.OneToOneRelation[Member] = one_of(
        "Member", "resident_profile", on_delete=fields.CASCADE
    )
    member_id: int
    care_level = fields.CharEnumField(CareLevel, max_length=12, default=CareLevel.SELF_CARE)
    hardship = fields.CharField(max_length=200, default="")  # comma-separated Hardship codes
    needs = fields.CharField(max_length=300, default="")  # comma-separated service types
    visit_every_days = fields.IntField(null=True)  # None: the community's default
    emergency_name = fields.CharField(max_length=60, default="")
    emergency_phone = fields.CharField(max_length=20, default="")
    notes = fields.TextField(default="")

    class Meta:
        table = "resident_profile"


class HelperProfile(Table):
    """What a helper offers: skills, how many residents, when, and at what rate."""

    member: fields.OneToOneRelation[Member] = one_of(
        "Member", "helper_profile", on_delete=fields.CASCADE
    )
    member_id: int
    kind = fields.CharEnumField(HelperKind, max_length=12, default=HelperKind.VOLUNTEER)
    hourly_rate_fen = fields.IntField(null=True)  # paid helpers, in fen (0.01 yuan)
    skills = fields.CharField(max_length=300, default="")  # comma-separated service types
    capacity = fields.IntField(default=3)  # most active pairings at once
    availability = fields.CharField(max_length=200, default="")

    class Meta:
        table = "helper_profile"


class FamilyLink(Table):
    """``relative`` is ``member``'s ``relation`` (both directions are stored)."""

    member: fields.ForeignKeyRelation[Member] = refers_to(
        "Member", "family", on_delete=fields.CASCADE
    )
    member_id: int
    relative: fields.ForeignKeyRelation[Member] = refers_to(
        "Member", "family_of", on_delete=fields.CASCADE
    )
    relative_id: int
    relation = fields.CharEnumField(Relation, max_length=12)
    created_at = fields.DatetimeField(auto_now_add=True)
    # When ``member`` agreed that ``relative`` may act for them (order, book, rate), and who
    # recorded it; none: the relative may not act for them.
    consent_at = fields.DatetimeField(null=True)
    consent_by_id = fields.IntField(null=True)

    class Meta:
        table = "family_link"
        unique_together = (("member", "relative"),)


class SignInCode(Table):
    """A one-time sign-in code a coordinator gives a member who has no password."""

    member: fields.ForeignKeyRelation[Member] = refers_to(
        "Member", "signin_codes", on_delete=fields.CASCADE
    )
    member_id: int
    code_hash = fields.CharField(max_length=64, unique=True)  # SHA-256 of the code
    issued_by: fields.ForeignKeyNullableRelation[Member] = refers_to(
        "Member", "codes_issued", null=True, on_delete=fields.SET_NULL
    )
    issued_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "signin_code"


class AuditEvent(Model):
    """Who did what to which record, when and from where. Rows are never changed."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    actor_id = fields.IntField(null=True)  # the signed-in member, None for the system
    on_behalf_of_id = fields.IntField(null=True)  # the member acted for, if any
    action = fields.CharField(max_length=60)
    target_type = fields.CharField(max_length=30)
    target_id = fields.CharField(max_length=40, default="")
    community_id = fields.IntField(null=True, db_index=True)
    ip = fields.CharField(max_length=64, default="")
    detail = fields.TextField(default="")  # JSON

    class Meta:
        table = "audit_event"
