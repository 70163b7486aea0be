"""Registering and looking after members: profiles, roles, consent, family links.

Every member is written by ``enrol``, and every change in one transaction with its audit
event. What a person typed is read by ``member_fields.parse_member``; a CSV list is
imported by ``member_import``; lists and records are read by ``directory``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from timebank.db import get_or_404
from timebank.errors import Conflict, Invalid
from timebank.labels import (
    RELATION_NAMES,
    ZH_CODES,
)
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.member_fields import (
    MEMBER_FIELDS,
    RESIDENT_FIELDS,
    FieldError,
    can_grant,
    hash_new_password,
    invalid_fields,
    parse_member,
)
from timebank.people.models import (
    Community,
    FamilyLink,
    HelperProfile,
    Member,
    MemberRole,
    Relation,
    ResidentProfile,
    Role,
    Session,
)
from timebank.people.service import (
    hash_password_off_loop,
    next_member_no,
    normalize_phone,
    phone_taken,
)

INVERSE = {
    Relation.SPOUSE: Relation.SPOUSE,
    Relation.CHILD: Relation.PARENT,
    Relation.PARENT: Relation.CHILD,
    Relation.SIBLING: Relation.SIBLING,
    Relation.GRANDCHILD: Relation.GRANDPARENT,
    Relation.GRANDPARENT: Relation.GRANDCHILD,
    Relation.OTHER: Relation.OTHER,
}


async def _apply_profiles(member: Member, roles: set[Role], values: dict[str, Any]) -> None:
    if Role.RESIDENT in roles:
        profile, _ = await ResidentProfile.get_or_create(member=member)
        for name in RESIDENT_FIELDS:
            if name in values:
                value = values[name]
                setattr(profile, name, ",".join(value) if isinstance(value, list) else value)
        await profile.save()
    if Role.HELPER in roles:
        helper, _ = await HelperProfile.get_or_create(member=member)
        if "helper_kind" in values:
            helper.kind = values["helper_kind"]
        for name in ("hourly_rate_fen", "capacity", "availability"):
            if name in values:
                setattr(helper, name, values[name])
        if "skills" in values:
            helper.skills = ",".join(values["skills"])
        await helper.save()


def _member_columns(values: dict[str, Any]) -> dict[str, Any]:
    columns = {k: values[k] for k in MEMBER_FIELDS if k in values}
    if "consent" in values:
        columns["consent_at"] = datetime.now(UTC) if values["consent"] else None
    if "password_hash" in values:
        columns["password_hash"] = values["password_hash"]
    return columns


async def create_member(
    *,
    community: Community,
    name: str,
    phone: str,
    password: str | None,
    roles: list[Role],
) -> Member:
    """A member set up by the server's operator (``timebank create-user``, the demo's
    logins, benchmarks): name, phone, password and roles, in a community of any level."""
    name = name.strip()
    if not name:
        raise Invalid("Please give the member's name.", "请填写姓名。", code="name_required")
    values: dict[str, Any] = {"name": name, "phone": normalize_phone(phone), "roles": roles}
    values["password_hash"] = (
        await hash_password_off_loop(password) if password is not None else None
    )
    return await enrol(community, values, actor=None)


async def register(
    actor: Actor, community: Community, data: Mapping[str, Any], *, admin: bool
) -> Member:
    """Register a member in ``community`` with their roles and profiles (what a person
    typed in the form, sent to the API, or wrote in a row of a CSV list)."""
    parsed = parse_member(data, partial=False)
    parsed.errors += can_grant(parsed.values.get("roles", []), admin=admin)
    if parsed.errors:
        raise invalid_fields(parsed.errors)
    if community.level.value != "community":
        raise Invalid(
            "Members belong to a community (社区/村), not to a district or sub-district.",
            "成员只能登记在社区或村，不能登记在区或街道。",
            code="not_a_community",
        )
    await hash_new_password(parsed.values)
    return await enrol(community, parsed.values, actor=actor)


async def enrol(community: Community, values: dict[str, Any], *, actor: Actor | None) -> Member:
    """The one way a member is written, for every path above and the CSV import: the next
    member number, the roles (a coordinator's scoped to ``community``), and, when a person
    (``actor``) registers them, their profiles and the audit event, all in one transaction;
    a phone number already registered is a 409. The operator's set-ups (``actor`` None)
    get neither profiles nor an audit event."""
    phone, roles = values["phone"], values["roles"]
    if await Member.exists(phone=phone):
        raise phone_taken(phone)
    try:
        async with in_transaction():
            member = await Member.create(
                community=community,
                member_no=await next_member_no(community),
                **_member_columns(values),
            )
            await _grant(member, roles, community.id)
            if actor is not None:
                await _apply_profiles(member, set(roles), values)
                await audit.record_about(
                    actor,
                    "member.register",
                    member,
                    detail={"name": member.name, "roles": [r.value for r in roles]},
                )
    except IntegrityError:
        # Another request registered the same phone, or took the same member number,
        # between our check and our insert; nothing of this one was written.
        if await Member.exists(phone=phone):
            raise phone_taken(phone) from None
        raise Conflict(
            "Someone else registered a member at the same moment. Please try again.",
            "有人同时登记了成员，请重试。",
            code="member_no_clash",
        ) from None
    return member


async def _grant(member: Member, roles: Iterable[Role], community_id: int) -> None:
    # An admin is district-wide; every other role is held in the member's community.
    for role in roles:
        scope = None if role is Role.ADMIN else community_id
        await MemberRole.create(member=member, role=role, community_id=scope)


async def update(actor: Actor, member: Member, data: Mapping[str, Any], *, admin: bool) -> Member:
    """Change the fields present in ``data`` (the roles, and ``active``, when given): every
    field is checked first, then all is written in one transaction, or nothing."""
    parsed = parse_member(data, partial=True)
    values = parsed.values
    active = data.get("active")
    if "active" in data and not isinstance(active, bool):
        parsed.refuse("active", "must be true or false.", "必须是 true 或 false。")
    current = {
        Role(str(r)) for r in await MemberRole.filter(member=member).values_list("role", flat=True)
    }
    roles = set(values.get("roles", current))
    parsed.errors += can_grant(roles - current, admin=admin)
    parsed.errors += can_grant(current - roles, admin=admin)
    if parsed.errors:
        raise invalid_fields(parsed.errors)
    await hash_new_password(values)
    moved = "phone" in values and values["phone"] != member.phone
    if moved and await Member.exists(phone=values["phone"]):
        raise phone_taken(values["phone"])
    changed = sorted(k for k in values if k != "password_hash")
    # Someone else setting the password or phone, or deactivating: whoever held the
    # account's sessions (a lost phone, a taken-over account) is signed out.
    someone_else = actor.member_id != member.id
    ends_sessions = active is False or (someone_else and ("password_hash" in values or moved))
    try:
        async with in_transaction():
            columns = _member_columns(values)
            if isinstance(active, bool):
                columns["is_active"] = active
            if columns:
                await Member.filter(id=member.id).update(**columns)
            await _grant(member, roles - current, member.community_id)
            if current - roles:
                await MemberRole.filter(member=member, role__in=list(current - roles)).delete()
            await _apply_profiles(member, roles, values)
            if ends_sessions:
                await end_sessions(member.id)
            if isinstance(active, bool) and active != member.is_active:
                await _record_active(actor, member, active)
            await audit.record_about(
                actor,
                "member.update",
                member,
                on_behalf_of_id=member.id if actor.member_id != member.id else None,
                detail={"fields": changed},
            )
    except IntegrityError:
        raise phone_taken(values.get("phone", member.phone)) from None
    return await Member.get(id=member.id)


async def end_sessions(member_id: int) -> int:
    """Sign the member out everywhere (inside the caller's transaction); returns how many."""
    return await Session.filter(member_id=member_id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )


async def set_consent(actor: Actor, member: Member, given: bool) -> Member:
    """The member gives or withdraws their consent to the use of their data, which covers
    the location recorded at check-in; the audit log keeps each change. Giving it again
    keeps the date it was first given."""
    async with in_transaction():
        if given:
            await Member.filter(id=member.id, consent_at=None).update(consent_at=datetime.now(UTC))
        else:
            await Member.filter(id=member.id).update(consent_at=None)
        await audit.record_about(
            actor,
            "member.consent" if given else "member.consent_withdrawn",
            member,
        )
    return await Member.get(id=member.id)


async def set_elder_mode(member: Member, on: bool) -> Member:
    """Remember whether the member reads the site in elder mode (长辈版: larger text and
    larger buttons). A display choice of their own: not audited."""
    await Member.filter(id=member.id).update(elder_mode=on)
    member.elder_mode = on
    return member


async def set_active(actor: Actor, member: Member, active: bool) -> None:
    """Deactivate (no sign-in, kept in every record) or reactivate a member."""
    async with in_transaction():
        await Member.filter(id=member.id).update(is_active=active)
        if not active:
            await end_sessions(member.id)
        await _record_active(actor, member, active)


async def _record_active(actor: Actor, member: Member, active: bool) -> None:
    await audit.record_about(
        actor,
        "member.activate" if active else "member.deactivate",
        member,
    )


async def get_member(member_id: int) -> Member:
    """The member with this id, or a 404."""
    return await get_or_404(Member, member_id, "member", "成员", "member_not_found")


# Family ---------------------------------------------------------------------------------


async def link_family(actor: Actor, member: Member, relative: Member, relation: str) -> FamilyLink:
    """Record that ``relative`` is ``member``'s ``relation`` (and the inverse)."""
    code = ZH_CODES.get(relation, relation)
    if code not in RELATION_NAMES:
        raise invalid_fields(
            [
                FieldError(
                    "relation", f"{relation!r} is not a relation.", f"“{relation}”不是亲属关系。"
                )
            ]
        )
    if member.id == relative.id:
        raise Invalid(
            "A member cannot be their own relative.", "不能把自己登记为亲属。", code="self_link"
        )
    if await FamilyLink.exists(member=member, relative=relative):
        raise Conflict(
            f"{relative.name} is already linked to {member.name}.",
            f"{relative.name} 已经是 {member.name} 的亲属。",
            code="already_linked",
        )
    kind = Relation(code)
    try:
        async with in_transaction():
            link = await FamilyLink.create(member=member, relative=relative, relation=kind)
            await FamilyLink.create(member=relative, relative=member, relation=INVERSE[kind])
            await audit.record_about(
                actor,
                "family.link",
                member,
                detail={"relative": relative.id, "relation": kind.value},
            )
    except IntegrityError:
        raise Conflict(
            f"{relative.name} is already linked to {member.name}.",
            f"{relative.name} 已经是 {member.name} 的亲属。",
            code="already_linked",
        ) from None
    return link


async def unlink_family(actor: Actor, link: FamilyLink) -> None:
    """Remove a family link, both directions."""
    member_id, relative_id = link.member_id, link.relative_id
    member = await get_member(member_id)
    async with in_transaction():
        await FamilyLink.filter(
            Q(member_id=member_id, relative_id=relative_id)
            | Q(member_id=relative_id, relative_id=member_id)
        ).delete()
        await audit.record_about(
            actor,
            "family.unlink",
            member,
            detail={"relative": relative_id},
        )
