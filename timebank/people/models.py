"""Communities (区 → 街道/镇 → 社区/村), members and the roles they hold."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


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


class Community(Model):
    """A district, sub-district/town or community/village."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    level = fields.CharEnumField(Level, max_length=12)
    parent: fields.ForeignKeyNullableRelation[Community] = fields.ForeignKeyField(
        "timebank.Community", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "community"
        unique_together = (("parent", "name"),)


class Member(Model):
    """A person known to the time bank, signing in with their phone number."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "timebank.Community", related_name="members", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=60)
    phone = fields.CharField(max_length=20, unique=True)
    # Short per-community number printed on paper cards, like a passbook number.
    member_no = fields.CharField(max_length=12)
    password_hash = fields.CharField(max_length=200, null=True)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    roles: fields.ReverseRelation[MemberRole]

    class Meta:
        table = "member"
        unique_together = (("community", "member_no"),)


class MemberRole(Model):
    """A role held by a member, coordinators holding theirs for one community."""

    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "timebank.Member", related_name="roles", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, max_length=12)
    community: fields.ForeignKeyNullableRelation[Community] = fields.ForeignKeyField(
        "timebank.Community", related_name="role_holders", null=True, on_delete=fields.RESTRICT
    )

    class Meta:
        table = "member_role"
        unique_together = (("member", "role", "community"),)


class Session(Model):
    """A signed-in browser or app, referenced by a signed cookie, revoked on sign-out."""

    id = fields.CharField(max_length=64, primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "timebank.Member", related_name="sessions", on_delete=fields.CASCADE
    )
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    ip = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=200, default="")

    class Meta:
        table = "member_session"


class SignInAttempt(Model):
    """A password sign-in attempt, kept to slow down guessing per phone and per address."""

    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=20, db_index=True)
    ip = fields.CharField(max_length=64, db_index=True)
    succeeded = fields.BooleanField()
    at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "signin_attempt"
