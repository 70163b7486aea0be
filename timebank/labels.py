"""UI names for values stored as codes (roles, transaction kinds), translated when shown."""

from __future__ import annotations


def _(message: str) -> str:
    """Marks ``message`` for the catalog; templates translate it when they show it."""
    return message


ROLE_NAMES = {
    "helper": _("Volunteer / paired helper"),
    "resident": _("Resident"),
    "coordinator": _("Coordinator"),
    "admin": _("District administrator"),
}

KIND_NAMES = {
    "service_credit": _("Service given"),
    "redeem": _("Redeemed"),
    "donate": _("Gift of hours"),
    "grant": _("Community grant"),
    "reserve": _("Booked"),
    "post": _("Booking served"),
    "void": _("Booking cancelled"),
    "expire": _("Booking expired"),
    "reversal": _("Correction"),
}

PHASE_NAMES = {
    "pending": _("on hold"),
    "release": _("hold released"),
    "posted": _("posted"),
}

ACCOUNT_KIND_NAMES = {
    "wallet": _("Time account"),
    "issuance": _("Community fund"),
    "redemption": _("Redeemed hours"),
    "pool": _("Public pool"),
}

CARE_LEVEL_NAMES = {
    "self_care": _("Independent"),
    "semi": _("Partly dependent"),
    "disabled": _("Dependent"),
}

HARDSHIP_NAMES = {
    "dibao": _("Minimum living allowance"),
    "tekun": _("Extreme hardship"),
    "alone": _("Lives alone"),
    "empty_nest": _("Empty nest"),
    "left_behind": _("Left behind"),
    "elderly": _("Very old (80+)"),
    "disability": _("Disability"),
    "shidu": _("Lost only child"),
    "gugua": _("No family"),
}

HELPER_KIND_NAMES = {
    "volunteer": _("Volunteer"),
    "paid": _("Paid paired helper"),
}

RELATION_NAMES = {
    "spouse": _("Spouse"),
    "child": _("Child"),
    "parent": _("Parent"),
    "sibling": _("Sibling"),
    "grandchild": _("Grandchild"),
    "grandparent": _("Grandparent"),
    "other": _("Other relative"),
}

# The default service types: every community's service catalog starts from these names
# (catalog.service seeds them, in Chinese from the translation catalogue); once seeded, what
# a community's pages show is its own name of the service.
SERVICE_NAMES = {
    "meal_help": _("Meal help"),
    "meal_delivery": _("Meal delivery"),
    "cleaning": _("Cleaning"),
    "bathing": _("Bathing"),
    "medical": _("Medical escort"),
    "mobility": _("Walking help"),
    "companionship": _("Companionship"),
    "haircut": _("Haircut"),
    "nails": _("Nail trimming"),
    "shopping": _("Shopping"),
    "visit": _("Home visit"),
    "group": _("Group activity"),
}

# What coordinators write in their Excel lists: the Chinese names, mapped to the codes.
ZH_CODES = {
    # roles
    "志愿者": "helper", "帮扶人": "helper", "结对帮扶人": "helper",
    "服务对象": "resident", "居民": "resident", "老人": "resident",
    # care levels
    "自理": "self_care", "半失能": "semi", "失能": "disabled",
    # hardship
    "低保": "dibao", "特困": "tekun", "独居": "alone", "空巢": "empty_nest",
    "留守": "left_behind", "高龄": "elderly", "残疾": "disability", "失独": "shidu",
    "孤寡": "gugua",
    # helper kinds
    "志愿": "volunteer", "有偿": "paid", "有偿结对": "paid",
    # services
    "助餐": "meal_help", "送餐": "meal_delivery", "助洁": "cleaning", "助浴": "bathing",
    "助医": "medical", "助行": "mobility", "陪聊": "companionship",
    "心理慰藉": "companionship", "理发": "haircut", "剪指甲": "nails", "代购": "shopping",
    "探视巡访": "visit", "探访": "visit", "集体志愿活动": "group", "集体活动": "group",
}  # fmt: skip

AUDIT_ACTION_NAMES = {
    "member.register": _("registered a member"),
    "member.update": _("changed a member's details"),
    "member.activate": _("reactivated a member"),
    "member.deactivate": _("deactivated a member"),
    "member.import": _("imported a list of members"),
    "member.password": _("changed their password"),
    "member.signin_code": _("gave a one-time sign-in code"),
    "member.signin_code_used": _("signed in with a one-time code"),
    "family.link": _("linked a relative"),
    "family.unlink": _("removed a family link"),
    "family.consent": _("agreed a relative may act for them"),
    "family.consent_withdrawn": _("withdrew a relative's right to act for them"),
    "community.settings": _("changed the community settings"),
    "member.consent": _("recorded consent to the use of personal data"),
    "member.consent_withdrawn": _("recorded that consent was withdrawn"),
    "member.password_reset": _("reset a password"),
    "catalog.update": _("changed a service in the catalog"),
    "pairing.propose": _("proposed a pairing"),
    "pairing.approve": _("approved a pairing"),
    "pairing.reject": _("rejected a pairing"),
    "pairing.suspend": _("suspended a pairing"),
    "pairing.resume": _("resumed a pairing"),
    "pairing.end": _("ended a pairing"),
    "pairing.plan": _("added to a visit plan"),
    "pairing.plan_remove": _("removed from a visit plan"),
    "order.place": _("placed an order"),
    "order.take": _("took an order"),
    "order.assign": _("assigned an order"),
    "order.release": _("gave an order back"),
    "order.cancel": _("cancelled an order"),
    "order.no_show": _("marked an order as missed"),
    "visit.check_in": _("checked in at a visit"),
    "visit.check_out": _("checked out of a visit"),
    "visit.auto_close": _("a forgotten visit was closed"),
    "visit.refused": _("a scan was refused"),
    "visit.approve": _("approved a visit"),
    "visit.adjust": _("adjusted the time of a visit"),
    "visit.reject": _("rejected a visit"),
    "visit.rate": _("rated a visit"),
    "placard.reissue": _("issued a new door code"),
    "placard.pin": _("set the door code's PIN"),
    "placard.pin_clear": _("removed the door code's PIN"),
    "redeem.redeem": _("redeemed hours"),
    "redeem.book": _("booked a service with hours"),
    "redeem.donate": _("gave hours"),
    "redeem.hand_over": _("handed over redeemed goods"),
    "redeem.item_create": _("added an item to redeem"),
    "redeem.item_update": _("changed an item to redeem"),
    "grant.request": _("asked for a community grant"),
    "grant.approve": _("approved a community grant"),
    "grant.reject": _("turned down a community grant"),
    "settlement.close": _("closed the month's settlement"),
}
# An action recorded by a newer version than the names above: said plainly, never its code.
AUDIT_ACTION_OTHER = _("made a change")

PAIRING_STATUS_NAMES = {
    "proposed": _("Awaiting approval"),
    "approved": _("Active"),
    "suspended": _("Suspended"),
    "ended": _("Ended"),
    "rejected": _("Rejected"),
}

PAIRING_ACTION_NAMES = {
    "approve": _("Approve"),
    "reject": _("Reject"),
    "suspend": _("Suspend"),
    "resume": _("Resume"),
    "end": _("End"),
}

COMPENSATION_NAMES = {
    "hours": _("Time-bank hours"),
    "paid": _("Paid by the hour"),
    "both": _("Hours and pay"),
}

ORDER_STATUS_NAMES = {
    "open": _("Waiting for a helper"),
    "assigned": _("Helper assigned"),
    "in_progress": _("Under way"),
    "completed": _("Done"),
    "verified": _("Verified"),
    "flagged": _("To review"),
    "cancelled": _("Cancelled"),
    "no_show": _("Missed"),
}

ORDER_ACTION_NAMES = {
    "take": _("Take this order"),
    "assign": _("Assign"),
    "release": _("Give back"),
    "cancel": _("Cancel the order"),
    "no_show": _("Mark as missed"),
}

VISIT_STATUS_NAMES = {
    "open": _("Under way"),
    "verified": _("Verified"),
    "flagged": _("Waiting for review"),
    "rejected": _("Rejected"),
}

FLAG_NAMES = {
    "outside_window": _("Outside the scheduled time"),
    "too_far": _("Too far from the home"),
    "too_short": _("Unusually short"),
    "too_long": _("Longer than the service allows"),
    "daily_cap": _("Over the daily limit"),
    "overlap": _("Overlaps another visit"),
    "unconfirmed": _("Not confirmed by the resident"),
    "offline": _("Recorded offline"),
    "auto_closed": _("Left open, closed automatically"),
    "no_hours": _("The resident's hours could not pay"),
}

ITEM_KIND_NAMES = {
    "goods": _("Goods"),
    "privilege": _("Privilege"),
    "service": _("Service"),
}

REDEMPTION_STATUS_NAMES = {
    "to_hand_over": _("Waiting at the office"),
    "handed_over": _("Handed over"),
    "done": _("Done"),
    "reserved": _("Booked"),
    "served": _("Served"),
    "cancelled": _("Cancelled"),
    "expired": _("Expired"),
}

GRANT_STATUS_NAMES = {
    "pending": _("Waiting for approval"),
    "posted": _("Granted"),
    "rejected": _("Rejected"),
}

# What a message calls a field: the label the person saw beside it on the form (the same
# words as the form's template), never the code name an API client sends. Fields of a URL
# that no form shows are named by what they do.
FIELD_LABELS = {
    # the member form and the columns of an imported list
    "name": _("Name"),
    "phone": _("Phone number"),
    "birth_date": _("Birth date"),
    "address": _("Address"),
    "languages": _("Languages or dialects"),
    "lat": _("Latitude"),
    "lon": _("Longitude"),
    "consent": _("Agrees to the use of their data for this service"),
    "roles": _("Roles"),
    "role": _("Roles"),
    "active": _("Active"),
    "care_level": _("Care level"),
    "hardship": _("Hardship"),
    "needs": _("Services needed"),
    "visit_every_days": _("Visit every … days"),
    "emergency_name": _("Emergency contact"),
    "emergency_phone": _("Emergency contact's phone"),
    "notes": _("Notes"),
    "helper_kind": _("Kind of helper"),
    "hourly_rate": _("Hourly rate in yuan (paid helpers)"),
    "skills": _("Skills"),
    "capacity": _("Most residents at once"),
    "availability": _("When available"),
    "community": _("Community"),
    "relative": _("Relative"),
    # hours, orders, visits, redemptions
    "hours": _("Hours"),
    "minutes": _("Minutes"),
    "price_minutes": _("Price (minutes)"),
    "stock": _("Stock (empty: no limit)"),
    "reason": _("Reason"),
    "to": _("To"),
    "for": _("For"),
    "member": _("Member"),
    "resident": _("Resident"),
    "helper": _("Helper"),
    "item": _("Item"),
    "service": _("Service"),
    "day": _("Date"),
    "date": _("Date"),
    "time": _("Time"),
    "start": _("Start"),
    "end": _("End"),
    "starts_at": _("Date and time"),
    "ends_at": _("End time"),
    "every_days": _("Every … days"),
    "duration_minutes": _("Minutes"),
    "month": _("Month"),
    "rating": _("Rating"),
    "pin": _("PIN"),
    # a community's settings (the settings page lists them in SETTINGS' order)
    "overdraft_minutes": _("Overdraft allowed (minutes)"),
    "balance_cap_minutes": _("Most hours a wallet may hold (minutes, empty: no cap)"),
    "daily_cap_minutes": _("Most a helper may earn in a day (minutes, empty: no cap)"),
    "redeem_min_age": _("Youngest age that may redeem hours"),
    "visit_radius_m": _("Check-in distance from the home (metres)"),
    "time_unit_minutes": _("Visits are rounded to (minutes)"),
    "checkin_early_minutes": _("Check-in may start before the visit (minutes)"),
    "checkin_late_minutes": _("Check-in may end after the visit (minutes)"),
    "redeem_daily_minutes": _("Most a member may redeem in a day (minutes, empty: no limit)"),
    "redeem_monthly_minutes": _("Most a member may redeem in a month (minutes, empty: no limit)"),
    "grant_review_minutes": _(
        "Grants above this need a second coordinator (minutes, empty: never)"
    ),
    "fund_budget_minutes": _(
        "Budget of the community fund: the most it may hand out in all (minutes, empty: no limit)"
    ),
    # the service catalog and the redemption catalogue
    "name_zh": _("Chinese name"),
    "name_en": _("English name"),
    "typical_minutes": _("Usual minutes"),
    "max_minutes": _("Most minutes"),
    "min_minutes": _("Fewest minutes (shorter visits are reviewed)"),
    "multiplier": _("Hours credited per hour served"),
    "kind": _("Kind"),
    # paging and periods in a page's address
    "since": _("Start of the period"),
    "until": _("End of the period"),
    "from": _("Start of the period"),
    "before": _("Older movements"),
    "after": _("Newer movements"),
    "limit": _("Lines per page"),
    "offset": _("Page"),
    "status": _("Status"),
}

# A community's settings page: each number it sets, in order, with its label (a msgid).
SETTINGS = {
    name: FIELD_LABELS[name]
    for name in (
        "overdraft_minutes", "balance_cap_minutes", "daily_cap_minutes", "redeem_min_age",
        "visit_every_days", "visit_radius_m", "time_unit_minutes", "checkin_early_minutes",
        "checkin_late_minutes", "redeem_daily_minutes", "redeem_monthly_minutes",
        "grant_review_minutes", "fund_budget_minutes",
    )
} | {"visit_every_days": _("Visit residents at least every … days")}  # fmt: skip
