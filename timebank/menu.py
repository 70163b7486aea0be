"""The menu at the top of every page: one list of entries, each shown only to the members
whom ``people.policy`` lets through to it, so no entry of anyone's menu leads to a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from timebank.labels import _
from timebank.people import policy
from timebank.people.auth import SignedIn


@dataclass(frozen=True)
class Entry:
    """A page in the menu: its route name, its label (a msgid), its test id."""

    endpoint: str
    label: str
    testid: str
    shown: Callable[[SignedIn], bool]
    more: bool = False  # behind "More": pages a coordinator opens less often


@dataclass(frozen=True)
class Menu:
    """The entries one member sees: always in view, and folded under "More"."""

    main: list[Entry]
    more: list[Entry]


def _own_visits(who: SignedIn) -> bool:
    # A coordinator reaches the same page through "Visits", which lists their own too.
    return policy.gives_or_gets_services(who) and not policy.coordinates_any(who)


ENTRIES = (
    Entry("my_tasks", _("Today's tasks"), "tasks", policy.is_helper),
    Entry("order_service", _("Order"), "order", policy.orders_for_self),
    Entry("visits", _("My services"), "visits", _own_visits),
    Entry("my_hours_page", _("My hours"), "hours", lambda who: True),
    Entry("use_hours", _("Use hours"), "use-hours", policy.is_helper),
    # Acting for an elder who agreed to it: anyone but office staff may be someone's family.
    Entry("family", _("Act for my family"), "family", lambda who: not policy.coordinates_any(who)),
    Entry("dashboard", _("Dashboard"), "dashboard", policy.coordinates_any),
    Entry("people_list", _("Members"), "members", policy.coordinates_any),
    Entry("pairing_queue", _("Pairings"), "pairings", policy.coordinates_any),
    Entry("orders_board", _("Orders"), "orders", policy.coordinates_any),
    Entry("visits", _("Visits"), "all-visits", policy.coordinates_any),
    Entry("handover", _("Redemptions"), "handover", policy.coordinates_any),
    Entry("reports", _("Reports"), "reports", policy.coordinates_any),
    Entry("grants", _("Grants"), "grants", policy.coordinates_any, more=True),
    Entry("placard_sheet", _("Print placards"), "placards", policy.coordinates_any, more=True),
    Entry("settlements", _("Settlement"), "settlements", policy.coordinates_any, more=True),
    Entry("ledger_accounts_page", _("Time accounts"), "accounts", policy.coordinates_any, True),
    Entry("redeem_catalog", _("Redemption catalogue"), "catalog", policy.coordinates_any, True),
    Entry("audit_log", _("Audit log"), "audit", policy.coordinates_any, more=True),
)


def menu_for(who: SignedIn | None) -> Menu | None:
    """The menu of ``who`` (None for a visitor who has not signed in)."""
    if who is None:
        return None
    seen: set[str] = set()
    shown: list[Entry] = []
    for entry in ENTRIES:
        if entry.endpoint not in seen and entry.shown(who):
            seen.add(entry.endpoint)
            shown.append(entry)
    return Menu([e for e in shown if not e.more], [e for e in shown if e.more])
