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
