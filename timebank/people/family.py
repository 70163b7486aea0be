"""Family acting for an elder: the elder's consent that a linked relative may act for them
(order, book and rate for them, see their visits and hours), recorded and withdrawn, and
whom a relative may act for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from timebank.errors import NotFound
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import FamilyLink, Member


async def get_link(member_id: int, link_id: int) -> FamilyLink:
    """The family link ``link_id`` of member ``member_id`` (whose relative it names), or a
    404."""
    link = await FamilyLink.get_or_none(id=link_id, member_id=member_id)
    if link is None:
        raise NotFound("There is no such family link.", "找不到该亲属关系。", code="link_not_found")
    return link


async def set_consent(actor: Actor, link: FamilyLink, given: bool) -> FamilyLink:
    """Record (``given``) or withdraw the consent of ``link.member`` that ``link.relative``
    acts for them; audited, on behalf of the member when someone else records it."""
    member = await Member.get(id=link.member_id)
    on_behalf = None if actor.member_id == member.id else member.id
    async with in_transaction():
        await FamilyLink.filter(id=link.id).update(
            consent_at=datetime.now(UTC) if given else None,
            consent_by_id=actor.member_id if given else None,
        )
        await audit.record_about(
            actor,
            "family.consent" if given else "family.consent_withdrawn",
            member,
            on_behalf_of_id=on_behalf,
            detail={"relative": link.relative_id, "link": link.id},
        )
    return await FamilyLink.get(id=link.id)


@dataclass(frozen=True)
class Elder:
    """A member whose relative ``relative`` is: whether they may act for them yet."""

    member: Member
    link: FamilyLink

    @property
    def consented(self) -> bool:
        """Whether the member's consent is recorded."""
        return self.link.consent_at is not None


async def elders_of(relative_id: int) -> list[Elder]:
    """The members ``relative_id`` is linked to as family, consented ones first, by name."""
    links = await FamilyLink.filter(relative_id=relative_id).prefetch_related("member")
    found = [Elder(link.member, link) for link in links if link.member.is_active]
    return sorted(found, key=lambda e: (not e.consented, e.member.name, e.member.id))


async def relatives_of(member_id: int) -> list[FamilyLink]:
    """The member's family links with the relative loaded, oldest first."""
    return list(
        await FamilyLink.filter(member_id=member_id).prefetch_related("relative").order_by("id")
    )


def link_json(link: FamilyLink) -> dict[str, object]:
    """A family link's consent as the API shows it."""
    return {
        "id": link.id,
        "member": link.member_id,
        "relative": link.relative_id,
        "relation": link.relation.value,
        "consent": link.consent_at is not None,
        "consent_at": link.consent_at.isoformat() if link.consent_at else None,
        "consent_by": link.consent_by_id,
    }
