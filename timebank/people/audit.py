"""The audit log: who did what to which record, when, from where, and for whom.

Append-only (the database refuses UPDATE, DELETE and TRUNCATE: migration 0008). Every
change a person makes through the service goes through ``record`` (or, in a step sequence,
``record_steps``) in the same transaction as the change, so a change without its audit row
cannot be committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.models import Model

from timebank.db.steps import Query, Steps
from timebank.people.models import AuditEvent, Community


@dataclass(frozen=True)
class Actor:
    """Who is acting, from where; None ``member_id`` is the system (CLI, demo, jobs)."""

    member_id: int | None
    ip: str = ""

    @classmethod
    def system(cls) -> Actor:
        return cls(None, "")


async def record(
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: Any = "",
    community_id: int | None = None,
    on_behalf_of_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event."""
    return await AuditEvent.create(
        actor_id=actor.member_id,
        on_behalf_of_id=on_behalf_of_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:40],
        community_id=community_id,
        ip=actor.ip[:64],
        detail=_detail(detail),
    )


async def record_about(
    actor: Actor,
    action: str,
    target: Model,
    *,
    on_behalf_of_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event about ``target``, in the target's community.

    The target's type is its model's ``audit_name`` if it has one (an order is ``order``,
    not its table's ``service_order``), else its table's name; a community is in itself.
    """
    return await record(
        actor,
        action,
        target_type=target_type(target),
        target_id=target.pk,
        community_id=target.pk if isinstance(target, Community) else target.community_id,  # type: ignore[attr-defined]
        on_behalf_of_id=on_behalf_of_id,
        detail=detail,
    )


def target_type(target: Model) -> str:
    """The name an audit event gives the kind of ``target``."""
    name: str = getattr(type(target), "audit_name", None) or target._meta.db_table
    return name


def record_steps(
    actor: Actor,
    action: str,
    *,
    at: datetime,
    target_type: str,
    target_id: Any,
    community_id: int | None,
    detail: dict[str, Any],
) -> Steps[None]:
    """Append one audit event (made ``at``) as a step of the caller's sequence."""
    yield Query(
        "INSERT INTO audit_event (at, actor_id, on_behalf_of_id, action, target_type,"
        " target_id, community_id, ip, detail) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?)",
        (at, actor.member_id, action, target_type, str(target_id)[:40], community_id,
         actor.ip[:64], _detail(detail)),
    )  # fmt: skip


def _detail(detail: dict[str, Any] | None) -> str:
    return json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str)


def event_json(event: AuditEvent, names: dict[int, str] | None = None) -> dict[str, Any]:
    """An audit event as the API shows it (``names``: member id → name, when known)."""
    names = names or {}
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor_id,
        "actor_name": names.get(event.actor_id or 0, ""),
        "on_behalf_of": event.on_behalf_of_id,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "community": event.community_id,
        "ip": event.ip,
        "detail": json.loads(event.detail or "{}"),
    }
