"""The shapes the JSON API answers with, shared by the operations of the OpenAPI document.

Each schema lists every key the matching ``*_json`` function writes (all are always present)
and marks the ones that may be ``null``. A small notation keeps them readable: ``"int"``,
``"str?"`` (nullable), ``"date-time"``, ``"[Visit]"`` (a list of a shared schema), ``"Visit?"``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from timebank.labels import HARDSHIP_NAMES, SERVICE_NAMES
from timebank.ledger.models import AccountKind, Phase, TxnKind
from timebank.orders.models import OrderStatus
from timebank.pairing.models import Compensation, PairingStatus
from timebank.people.communities import SETTINGS
from timebank.people.models import CareLevel, HelperKind, Level, Relation, Role
from timebank.redeem.models import GrantSource, GrantStatus, ItemKind, RedemptionStatus
from timebank.visits.models import Flag, VisitStatus

SCALARS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "num": {"type": "number"},
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
    "any": {},
    "object": {"type": "object"},
    "[str]": {"type": "array", "items": {"type": "string"}},
    "[int]": {"type": "array", "items": {"type": "integer"}},
}


def field(spec: str | dict[str, Any]) -> dict[str, Any]:
    """One property from the notation above (a dict is taken as it is)."""
    if isinstance(spec, dict):
        return spec
    nullable = spec.endswith("?")
    name = spec.rstrip("?")
    if name in SCALARS:
        schema = dict(SCALARS[name])
    elif name.startswith("["):
        schema = {"type": "array", "items": {"$ref": f"#/components/schemas/{name[1:-1]}"}}
    else:
        schema = {"$ref": f"#/components/schemas/{name}"}
    if nullable:
        # OpenAPI 3.0 ignores siblings of $ref, so a nullable reference is wrapped.
        schema = {"allOf": [schema], "nullable": True} if "$ref" in schema else schema
        schema["nullable"] = True
    return schema


PAGE_ORDER = {"type": "string", "enum": ["newest_first", "oldest_first"]}


def enum(kind: type[StrEnum], *, nullable: bool = False) -> dict[str, Any]:
    """A string that is one of ``kind``'s values."""
    schema: dict[str, Any] = {"type": "string", "enum": [k.value for k in kind]}
    return {**schema, "nullable": True} if nullable else schema


def enums(kind: type[StrEnum]) -> dict[str, Any]:
    """A list of ``kind``'s values."""
    return {"type": "array", "items": enum(kind)}


def obj(**fields: str | dict[str, Any]) -> dict[str, Any]:
    """An object whose keys are all present."""
    return {
        "type": "object",
        "required": list(fields),
        "properties": {name: field(spec) for name, spec in fields.items()},
    }


def listing(key: str, item: str) -> dict[str, Any]:
    """``{key: [item, ...]}``."""
    return obj(**{key: f"[{item}]"})


REF = obj(type="str", id="str")
MINUTES = obj(visits="int", minutes="int")
COMMUNITY_SETTINGS = obj(
    **{name: "int?" if optional else "int" for name, (_, _, optional) in SETTINGS.items()},
    four_eyes="bool",
    group_hours_donate_only="bool",
)


def codes(names: dict[str, str]) -> dict[str, Any]:
    """A list of codes (the Chinese names are accepted too, as in the spreadsheet import)."""
    return {"type": "array", "items": {"type": "string", "enum": list(names)}}


def text(limit: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": limit}


PHONE = {"type": "string", "pattern": r"^\+?[0-9]{5,15}$"}
# What parse_member reads (people/member_fields.py), for registering and for an edit.
MEMBER_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 60},
    "phone": PHONE,
    "roles": {"type": "array", "minItems": 1, "items": enum(Role)},
    "birth_date": {"type": "string", "format": "date", "nullable": True},
    "address": text(200),
    "lat": {"type": "number", "minimum": -90, "maximum": 90, "nullable": True},
    "lon": {"type": "number", "minimum": -180, "maximum": 180, "nullable": True},
    "languages": text(100),
    "consent": {"type": "boolean"},
    "password": {"type": "string", "minLength": 8},
    "care_level": enum(CareLevel),
    "hardship": codes(HARDSHIP_NAMES),
    "needs": codes(SERVICE_NAMES),
    "visit_every_days": {"type": "integer", "minimum": 1, "maximum": 365, "nullable": True},
    "emergency_name": text(60),
    "emergency_phone": {**PHONE, "nullable": True},
    "notes": text(2000),
    "helper_kind": enum(HelperKind),
    "hourly_rate": {
        "type": "string",
        "pattern": r"^[0-9]+(\.[0-9]{1,2})?$",
        "nullable": True,
        "description": "yuan, e.g. 25.50",
    },
    "skills": codes(SERVICE_NAMES),
    "capacity": {"type": "integer", "minimum": 0, "maximum": 50},
    "availability": text(200),
}

# What parse_item reads (redeem/service.py).
ITEM_FIELDS: dict[str, Any] = {
    "kind": enum(ItemKind),
    "name_zh": {"type": "string", "minLength": 1, "maxLength": 60},
    "name_en": {"type": "string", "minLength": 1, "maxLength": 80},
    "price_minutes": {"type": "integer", "minimum": 1, "maximum": 6000},
    "stock": {
        "type": "integer",
        "minimum": 0,
        "maximum": 100_000,
        "nullable": True,
        "description": "null: no limit",
    },
    "service": {"type": "string", "description": "kind service: the service booked"},
    "active": {"type": "boolean"},
}

SETTINGS_CHANGE: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{
            name: {"type": "integer", "minimum": low, "maximum": high, "nullable": optional}
            for name, (low, high, optional) in SETTINGS.items()
        },
        "four_eyes": {"type": "boolean"},
        "group_hours_donate_only": {"type": "boolean"},
    },
}

# fmt: off
SCHEMAS: dict[str, dict[str, Any]] = {
    "Id": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 2**31 - 1,
           "description": "A record's number (32-bit)."},
    "Info": obj(name="str", version="str", openapi="str"),
    "RoleGrant": obj(role=enum(Role), community="int?"),
    "Me": obj(id="int", name="str", phone="str", member_no="str", community="int",
              roles="[RoleGrant]"),
    "Session": obj(member="Me", csrf_token="str"),
    "MemberSummary": obj(id="int", name="str", phone="str", member_no="str", community="int",
                         active="bool", roles=enums(Role), birth_date="date?", has_password="bool",
                         hardship="[str]"),
    "MemberList": obj(total="int", members="[MemberSummary]"),
    "ResidentProfile": obj(care_level=enum(CareLevel), hardship="[str]", needs="[str]",
                           visit_every_days="int?", emergency_name="str", emergency_phone="str",
                           notes="str"),
    "HelperProfile": obj(kind=enum(HelperKind), hourly_rate="str?", skills="[str]", capacity="int",
                         availability="str"),
    "FamilyLink": obj(id="int", relative="int", name="str", relation=enum(Relation),
                      consent="bool"),
    "FamilyConsent": obj(id="int", member="int", relative="int", relation=enum(Relation),
                         consent="bool", consent_at="date-time?", consent_by="int?"),
    "Member": obj(id="int", name="str", phone="str", member_no="str", community="int",
                  active="bool", roles=enums(Role), birth_date="date?", has_password="bool",
                  address="str", lat="num?", lon="num?", languages="str", consent="bool",
                  resident="ResidentProfile?", helper="HelperProfile?",
                  family="[FamilyLink]"),
    "NewMember": {
        "type": "object",
        "required": ["community", "name", "phone", "roles"],
        "properties": {"community": field("Id"), **MEMBER_FIELDS},
    },
    "MemberChange": {
        "type": "object",
        "description": "Only the fields sent change; roles replace the member's roles.",
        "properties": {"active": {"type": "boolean"}, **MEMBER_FIELDS},
    },
    "NewItem": {"type": "object", "required": ["kind", "name_zh", "name_en", "price_minutes"],
                "properties": ITEM_FIELDS},
    "ItemChange": {"type": "object", "properties": ITEM_FIELDS},
    "SettingsChange": SETTINGS_CHANGE,
    "SigninCode": obj(code="str", hours="int"),
    "Imported": obj(created="int", members="[MemberSummary]"),
    "Community": obj(id="int", name="str", level=enum(Level), parent="int?",
                     settings=COMMUNITY_SETTINGS),
    "CommunityList": listing("communities", "Community"),
    "AuditEvent": obj(id="int", at="date-time", actor="int?", actor_name="str",
                      on_behalf_of="int?", action="str", target_type="str", target_id="str",
                      community="int?", ip="str", detail="object"),
    "AuditList": listing("events", "AuditEvent"),
    "Consent": obj(consent="bool", consent_at="date-time?"),
    "Service": obj(code="str", name_zh="str", name_en="str", typical_minutes="int",
                   max_minutes="int", min_minutes="int", multiplier="num",
                   needs_confirmation="bool", group_activity="bool", active="bool"),
    "ServiceList": listing("services", "Service"),
    "Visit": obj(id="int", community="int", resident="int", resident_name="str", helper="int",
                 helper_name="str", order="int?", pairing="int?", service="str",
                 status=enum(VisitStatus),
                 checked_in_at="date-time?", checked_out_at="date-time?",
                 client_in_at="date-time?", client_out_at="date-time?", in_distance_m="int?",
                 out_distance_m="int?", offline="bool", raw_minutes="int?",
                 served_minutes="int?", credit_minutes="int?", flags=enums(Flag), funded="bool",
                 hours="bool", pay_fen="int?", rating="int?",
                 confirmed_by={"type": "string", "enum": ["", "pin", "rating"]},
                 comment="str", review_note="str", ledger_txn="int?"),
    "VisitList": listing("visits", "Visit"),
    "Order": obj(id="int", community="int", resident="int", resident_name="str",
                 helper="int?", helper_name="str", service="str", starts_at="date-time",
                 ends_at="date-time", status=enum(OrderStatus), notes="str", address="str",
                 on_behalf="bool", funded="bool", pairing="int?", due_on="date?",
                 reason="str"),
    "OrderBoard": {
        "type": "object",
        "description": "A coordinator's board (open, assigned, overdue), else one's own (mine).",
        "properties": {k: field("[Order]") for k in ("open", "assigned", "overdue", "mine")},
    },
    "Scan": obj(action="str", resident=obj(id="int", name="str", member_no="str"),
                community=obj(id="int", name="str"), order="Order?", pairing="int?",
                visit="Visit?", open_elsewhere="int?", services="[Service]",
                pin_set="bool"),
    "Placard": obj(resident="int", member_no="str", generation="int", url="str",
                   pin_set="bool", issued_at="date-time"),
    "PairingEvent": obj(at="date-time", actor="int?", **{"from": "str?"}, to="str",
                        reason="str"),
    "PlanItem": obj(id="int", service="str", every_days="int", start="str",
                    duration_minutes="int"),
    "Pairing": {
        **obj(id="int", community="int", helper="int", helper_name="str", resident="int",
              resident_name="str", status=enum(PairingStatus),
              compensation=enum(Compensation), funded="bool",
              proposed_by="int?", approved_by="int?", started_on="date?",
              note="str"),
        "description": "A pairing; history and plan only on a single pairing.",
    },
    "PairingList": listing("pairings", "Pairing"),
    "Suggestion": obj(helper="int", name="str", score="num", free="int",
                      reasons={"type": "array", "items": {"type": "object"}}),
    "SuggestionList": listing("suggestions", "Suggestion"),
    "Tasks": obj(date="date", tasks="[Order]", coming="[Order]", open="[Order]",
                 pairings="[Pairing]"),
    "Item": obj(id="int", community="int", kind=enum(ItemKind), name_zh="str", name_en="str",
                price_minutes="int", stock="int?", service="str?", active="bool"),
    "ItemList": listing("items", "Item"),
    "Redemption": obj(id="int", community="int", item="int", member="int", member_name="str",
                      beneficiary="int", beneficiary_name="str", minutes="int",
                      status=enum(RedemptionStatus),
                      on_behalf="bool", order="int?", handed_over_at="date-time?",
                      created_at="date-time"),
    "RedemptionList": listing("redemptions", "Redemption"),
    "Donation": obj(transaction="int", created="bool"),
    "Grant": obj(id="int", community="int", member="int", member_name="str",
                 source=enum(GrantSource), minutes="int", reason="str",
                 status=enum(GrantStatus), requested_by="int?",
                 decided_by="int?", ledger_txn="int?", created_at="date-time"),
    "GrantList": listing("grants", "Grant"),
    "Settlement": obj(
        community="int", month="str", closed="bool", closed_at="date-time?", visits="int",
        minutes="int", amount_fen="int",
        helpers={"type": "array", "items": obj(
            helper="int", name="str", member_no="str", rate_fen="int?", visits="int",
            minutes="int", amount_fen="int", corrections_fen="int")},
        lines={"type": "array", "items": obj(
            visit="int", helper="int", served_on="date", resident="str", service="str",
            minutes="int", amount_fen="int", correction="bool")},
    ),
    "CommunityFigures": obj(community="int", name="str", level="str", visits="int",
                            minutes="int", residents="int", helpers="int",
                            satisfaction="num?", ratings="int", pay_fen="int",
                            earned_minutes="int", redeemed_minutes="int", overdue="int",
                            by_service={"type": "object", "additionalProperties": MINUTES},
                            by_category={"type": "object",
                                         "additionalProperties": MINUTES}),
    "MonthlyReport": obj(**{"from": "date"}, to="date", communities="[CommunityFigures]",
                         rollups="[CommunityFigures]"),
    "Overdue": obj(member="int", name="str", member_no="str", phone="str", community="int",
                   community_name="str", hardship="[str]", every_days="int",
                   last_visit="date?", days_since="int?", overdue_days="int",
                   helper_name="str", helper_phone="str"),
    "OverdueList": listing("overdue", "Overdue"),
    "Today": obj(in_progress="int", due_today="int", late="int", orders_open="int",
                 pairings_proposed="int", visits_flagged="int", to_hand_over="int",
                 grants_pending="int"),
    "Balance": obj(account="int", posted_minutes="int", pending_debit_minutes="int",
                   pending_credit_minutes="int", available_minutes="int",
                   floor_minutes="int?", cap_minutes="int?"),
    "Account": obj(id="int", kind=enum(AccountKind), community="int", member="int?",
                   member_name="str", member_no="str", balance="Balance"),
    "StatementLine": obj(seq="int", transaction="int", kind=enum(TxnKind), phase=enum(Phase),
                         amount_minutes="int", available_after_minutes="int", reason="str",
                         ref={**REF, "nullable": True}, at="date-time"),
    "MyHours": obj(balance="Balance", lines="[StatementLine]", order=PAGE_ORDER,
                   next_before="int?", next_after="int?"),
    "Statement": obj(account="Account", lines="[StatementLine]", order=PAGE_ORDER,
                     next_before="int?", next_after="int?"),
    "Entry": obj(seq="int", account="int", amount_minutes="int", phase=enum(Phase), hash="str"),
    "Transaction": obj(id="int", kind=enum(TxnKind), reason="str", ref={**REF, "nullable": True},
                       actor="int?", on_behalf_of="int?", reverses="int?", resolves="int?",
                       at="date-time", entries="[Entry]"),
    "Checkpoint": obj(ledger="str", seq="int", hash="str", created_at="date-time", note="str"),
    "CheckpointList": {"type": "array", "items": field("Checkpoint")},
    "StatementCheck": obj(
        matches="bool", account="int", member="int?", member_name="str",
        printed=obj(through_seq="int", count="int", balance_minutes="int"),
        ledger=obj(through_seq="int", count="int", balance_minutes="int"),
        available_now_minutes="int",
    ),
}
# fmt: on
