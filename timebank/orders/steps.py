"""The order's state machine, and its writes as steps: the one way an order changes state.

``move`` checks a transition against ``MOVES``, updates the ``service_order`` row from the
state it was read in and appends its ``order_event`` history row; other features compose
these steps into their own sequences (check-in and check-out run them in the same trip to
the database), and ``orders.service`` runs them for the transitions people ask for.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from timebank.db.steps import Query, Steps
from timebank.errors import Conflict, Invalid
from timebank.orders.models import OrderStatus

S = OrderStatus
# action: (from, to, reason required)
MOVES: dict[str, tuple[tuple[OrderStatus, ...], OrderStatus, bool]] = {
    "take": ((S.OPEN,), S.ASSIGNED, False),
    "assign": ((S.OPEN, S.ASSIGNED), S.ASSIGNED, False),
    "release": ((S.ASSIGNED,), S.OPEN, False),
    "cancel": ((S.OPEN, S.ASSIGNED), S.CANCELLED, True),
    "no_show": ((S.ASSIGNED,), S.NO_SHOW, True),
    "start": ((S.ASSIGNED,), S.IN_PROGRESS, False),
    "complete": ((S.IN_PROGRESS,), S.COMPLETED, False),
    "verify": ((S.COMPLETED, S.FLAGGED), S.VERIFIED, False),
    # From verified too: a visit its payer cannot pay goes back to review (no_hours).
    "flag": ((S.COMPLETED, S.VERIFIED), S.FLAGGED, True),
}
KEEPS_REASON = {"cancel", "no_show", "flag"}  # the order shows why
MAX_REASON = 300


def check(action: str, order_id: int, source: OrderStatus, reason: str) -> OrderStatus:
    """The state ``action`` leads to from ``source``, or why it may not be done (422, 409)."""
    if action not in MOVES:
        raise Invalid(f"Unknown action {action!r}.", f"未知操作“{action}”。", code="unknown_action")
    sources, target, needs_reason = MOVES[action]
    if needs_reason and not reason:
        raise Invalid("Please give a reason.", "请填写原因。", code="reason_required")
    if len(reason) > MAX_REASON:
        raise Invalid("The reason is too long.", "原因太长。", code="reason_too_long")
    if source not in sources:
        raise _refused(
            order_id, action, f"is {source.value}: it cannot be given {action!r}.",
            f"当前为“{source.value}”，不能执行该操作。", "wrong_state",
        )  # fmt: skip
    return target


def move(
    *,
    order_id: int,
    action: str,
    source: OrderStatus,
    actor_id: int | None,
    helper_id: int | None,
    at: datetime,
    reason: str = "",
    reason_kept: bool = True,
) -> Steps[OrderStatus]:
    """Carry out ``action`` on an order read in state ``source``: the conditional update
    and its history row. ``helper_id``: the order's helper after the move. The order keeps
    the reason of a cancel, no-show or flag unless ``reason_kept`` is false (a check-out's
    flags are the visit's, not the order's)."""
    return (
        yield from move_through(
            order_id=order_id,
            actions=((action, reason),),
            source=source,
            actor_id=actor_id,
            helper_id=helper_id,
            at=at,
            reason_kept=reason_kept,
        )  # fmt: skip
    )


def move_through(
    *,
    order_id: int,
    actions: tuple[tuple[str, str], ...],
    source: OrderStatus,
    actor_id: int | None,
    helper_id: int | None,
    at: datetime,
    reason_kept: bool = True,
) -> Steps[OrderStatus]:
    """Carry out ``actions`` (each ``(action, reason)``) one after the other on an order
    read in state ``source``, as ``move`` would one by one: every transition is checked
    and has its history row, while the order row is updated once and the history rows go
    in one statement (a check-out completes and verifies an order in two statements, not
    four)."""
    changes: dict[str, object] = {}
    events = []
    state = source
    for action, reason in actions:
        target = check(action, order_id, state, reason)
        changes["status"] = target.value
        if action in ("take", "assign", "release"):
            changes["helper_id"] = helper_id
        if action in KEEPS_REASON and reason_kept:
            changes["reason"] = reason
        events.append((at, actor_id, state.value, target.value, helper_id, reason, order_id))
        state = target
    names = list(changes)
    moved = yield Query(
        f"UPDATE service_order SET {', '.join(f'{n} = ?' for n in names)}"
        " WHERE id = ? AND status = ? RETURNING id",
        (*changes.values(), order_id, source.value),
    )
    if not moved:
        raise _refused(
            order_id, actions[0][0], "changed at the same moment.", "刚被修改。", "order_changed"
        )
    yield from _events(events)
    return state


def follow(
    *, order_id: int, action: str, when: OrderStatus, actor_id: int | None, at: datetime,
    reason: str = "",
) -> Steps[bool]:  # fmt: skip
    """Move the order of a visit along with its visit: ``action`` when the order is in
    state ``when``, nothing otherwise (the order went its own way). Whether it moved."""
    rows = yield Query("SELECT status, helper_id FROM service_order WHERE id = ?", (order_id,))
    if not rows or rows[0][0] != when.value:
        return False
    helper_id = None if rows[0][1] is None else int(rows[0][1])
    yield from move(
        order_id=order_id, action=action, source=when, actor_id=actor_id, helper_id=helper_id,
        at=at, reason=reason, reason_kept=False,
    )  # fmt: skip
    return True


def open_planned(
    *, community_id: int, resident_id: int, helper_id: int, service_code: str,
    starts_at: datetime, ends_at: datetime, pairing_id: int, plan_item_id: int, due_on: date,
    funded: bool, at: datetime,
) -> Steps[int | None]:  # fmt: skip
    """The order a pairing's plan wants on ``due_on``, assigned to the pairing's helper,
    with its history row; None when it exists already (one per plan item and day, also
    when two processes generate at once)."""
    rows = yield Query(
        "INSERT INTO service_order (community_id, resident_id, helper_id, service_code,"
        " starts_at, ends_at, notes, address, status, placed_by_id, on_behalf, funded,"
        " pairing_id, plan_item_id, due_on, reason, created_at)"
        # The day as ISO text: SQLite stores it so, PostgreSQL casts it to a date.
        " VALUES (?, ?, ?, ?, ?, ?, '', '', ?, NULL, ?, ?, ?, ?, DATE(? || ''), '', ?)"
        " ON CONFLICT (plan_item_id, due_on) DO NOTHING RETURNING id",
        (community_id, resident_id, helper_id, service_code, starts_at, ends_at,
         S.ASSIGNED.value, False, funded, pairing_id, plan_item_id, due_on.isoformat(), at),
    )  # fmt: skip
    if not rows:
        return None
    order_id = int(rows[0][0])
    yield from _events([(at, None, "", S.ASSIGNED.value, helper_id, "plan", order_id)])
    return order_id


def _refused(order_id: int, action: str, en: str, zh: str, code: str) -> Conflict:
    """A 409 about the order; for a take: someone else took it first."""
    if action == "take":
        en, zh, code = en + " Someone else took it first.", zh + "已被别人接单。", "already_taken"
    return Conflict(f"Order {order_id} {en}", f"订单 {order_id} {zh}", code=code)


def _events(rows: list[tuple[Any, ...]]) -> Steps[None]:
    """History rows (at, actor, from, to, helper, reason, order), in one statement."""
    marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(rows))
    yield Query(
        "INSERT INTO order_event (at, actor_id, from_status, to_status, helper_id, reason,"
        f" order_id) VALUES {marks}",
        tuple(value for row in rows for value in row),
    )
