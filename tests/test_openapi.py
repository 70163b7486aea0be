"""The OpenAPI document tells the truth: it validates, declares its security, has a schema for
every JSON success answer, and documents exactly the body fields each endpoint reads."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pprint import pformat
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from openapi_spec_validator import validate

from timebank.api import ROUTES, openapi_document
from timebank.demo import DEMO_PASSWORD, load_demo

Document = dict[str, Any]
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> Document:
    return openapi_document(ROUTES)


def operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def resolve(document: Document, node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a ``$ref`` followed (one level is all the document uses)."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_the_document_is_valid_openapi(document: Document) -> None:
    validate(document)


def test_every_json_success_answer_has_a_schema(document: Document) -> None:
    missing = []
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            response = resolve(document, response)
            if not status.startswith("2") or status == "204":
                continue
            content = response.get("content", {})
            if not content or not all("schema" in media for media in content.values()):
                missing.append(f"{method.upper()} {path} {status}")
    assert missing == []


def test_security_is_declared_on_every_operation(document: Document) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {**schemes["session"], "in": "cookie", "name": "tb_session"}
    assert schemes["csrf"] == {**schemes["csrf"], "in": "header", "name": "X-CSRF-Token"}
    public = {"GET /api/v1/", "POST /api/v1/session", "POST /api/v1/session/code"}
    for method, path, operation in operations(document):
        name = f"{method.upper()} {path}"
        if name in public:
            expected: list[dict[str, list[str]]] = []
        elif method == "get":
            expected = [{"session": []}]
        else:
            expected = [{"session": [], "csrf": []}]
        assert operation.get("security") == expected, name
        if name not in public:
            assert "401" in operation["responses"], name


def test_bodies_are_required_and_errors_documented(document: Document) -> None:
    for method, path, operation in operations(document):
        name = f"{method.upper()} {path}"
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True, name
            assert {"400", "413", "422"} <= set(operation["responses"]), name
        if "{" in path:
            assert "404" in operation["responses"], name
    paths = document["paths"]
    # The ones the issue found wrong.
    assert "400" in paths["/api/v1/pairings"]["get"]["responses"]
    assert "requestBody" in paths["/api/v1/ledger/checkpoints"]["post"]
    patch = paths["/api/v1/members/{member_id}"]["patch"]
    fields = body_schema(document, patch)["properties"]
    assert {"active", "password", "phone", "roles", "name"} <= set(fields)


def body_schema(document: Document, operation: dict[str, Any]) -> dict[str, Any]:
    return resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])


def test_path_ids_are_32_bit(document: Document) -> None:
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                assert parameter["schema"]["maximum"] == 2**31 - 1, (method, path)


# Documented body fields == the fields the endpoint reads ---------------------------------


class Recording(dict[str, Any]):
    """A request body that remembers which keys the endpoint looked at."""

    def __init__(self, data: dict[str, Any], seen: set[str]) -> None:
        super().__init__(data)
        self.seen = seen

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.seen.add(key)
        return super().pop(key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().setdefault(key, default)

    def everything(self) -> None:
        self.seen.update(super().keys())

    def keys(self) -> Any:
        self.everything()
        return super().keys()

    def items(self) -> Any:
        self.everything()
        return super().items()

    def values(self) -> Any:
        self.everything()
        return super().values()

    def __iter__(self) -> Any:
        self.everything()
        return super().__iter__()


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The keys read from request bodies, by every module that imported ``read_json``."""
    from timebank import http

    keys: set[str] = set()
    original = http.read_json

    async def recording(request: Any) -> dict[str, Any]:
        return Recording(await original(request), keys)

    patched = [
        name
        for name, module in list(sys.modules.items())
        if name.startswith("timebank.") and getattr(module, "read_json", None) is original
    ]
    for name in patched:
        monkeypatch.setattr(sys.modules[name], "read_json", recording)
    assert "timebank.people.members_api" in patched, "the endpoints no longer use read_json"
    return keys


def example(document: Document, schema: dict[str, Any]) -> Any:
    """A plausible value for ``schema``."""
    schema = resolve(document, schema)
    if "allOf" in schema:
        return example(document, schema["allOf"][0])
    for choices in (schema.get("oneOf"), schema.get("anyOf")):
        if choices:  # the named choice (e.g. "pool") over an id
            return example(document, next((c for c in choices if "enum" in c), choices[0]))
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "array":
        items = schema.get("items", {})
        return [example(document, items)] if "enum" in items else []
    if kind == "object":
        return {}
    if schema.get("format") == "date":
        return date.today().isoformat()
    if schema.get("format") == "date-time":
        return datetime.now(UTC).isoformat()
    return "x" * max(int(schema.get("minLength", 8)), 8)


ADMIN, COORDINATOR, HELPER, RESIDENT = "13800000001", "13800000002", "13800000003", "13800000005"


async def path_values() -> dict[str, Any]:
    """Ids of demo records to put in the paths."""
    from timebank.ledger.models import LedgerTxn
    from timebank.orders.models import Order
    from timebank.pairing.models import Pairing
    from timebank.people.models import Community, FamilyLink, Member
    from timebank.redeem.models import Grant, RedeemItem
    from timebank.visits.models import Visit

    resident = await Member.get(phone=RESIDENT)
    visit = await Visit.filter(resident_id=resident.id).order_by("-id").first()
    assert visit is not None
    return {
        "member_id": resident.id,
        "community_id": (await Community.get(name="桂花社区")).id,
        "visit_id": visit.id,
        "pairing_id": (await Pairing.first()).id,  # type: ignore[union-attr]
        "order_id": (await Order.first()).id,  # type: ignore[union-attr]
        "catalog_item_id": (await RedeemItem.first()).id,  # type: ignore[union-attr]
        "grant_id": (await Grant.first()).id,  # type: ignore[union-attr]
        "txn_id": (await LedgerTxn.first()).id,  # type: ignore[union-attr]
        "code": "visit",
        "service_item": (await RedeemItem.filter(kind="service").first()).id,  # type: ignore[union-attr]
        "helper": (await Member.get(phone=HELPER)).id,
        "link_id": (await FamilyLink.get(member_id=resident.id, relative__phone=HELPER)).id,
    }


# Who calls each operation: someone the endpoint lets through to reading its body.
CALLER = {
    "POST /api/v1/placards/{token}/check-in": HELPER,
    "POST /api/v1/placards/{token}/check-out": HELPER,
    "POST /api/v1/visits/{visit_id}/rating": RESIDENT,
    "POST /api/v1/me/donations": HELPER,
    "POST /api/v1/session": None,
    "POST /api/v1/session/code": None,
}


# Fields read only in one case (a transition that names a helper, a service to book).
CASE = {
    "POST /api/v1/orders/{order_id}/transitions": lambda v: {
        "action": "assign",
        "helper": v["helper"],
    },
    "POST /api/v1/redemptions": lambda v: {"item": v["service_item"]},
    # A relative the admin may manage (not the admin itself, nor another admin).
    "POST /api/v1/members/{member_id}/family": lambda v: {"relative": v["helper"]},
}


async def sign_in(client: httpx.AsyncClient, phone: str | None) -> dict[str, str]:
    client.cookies.clear()
    if phone is None:
        return {}
    answer = await client.post("/api/v1/session", json={"phone": phone, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"x-csrf-token": answer.json()["csrf_token"]}


async def test_documented_body_fields_are_the_ones_read(
    client: httpx.AsyncClient, seen: set[str]
) -> None:
    await load_demo(ZoneInfo("Asia/Shanghai"))
    document = (await client.get("/api/v1/openapi.json")).json()
    values = await path_values()
    headers = await sign_in(client, ADMIN)
    placard = await client.get(f"/api/v1/members/{values['member_id']}/placard")
    values["token"] = urlsplit(placard.json()["url"]).path.rsplit("/", 1)[-1]
    wrong = {}
    for method, path, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        name = f"{method.upper()} {path}"
        documented = set(body_schema(document, operation).get("properties", {}))
        body = {
            key: example(document, schema)
            for key, schema in body_schema(document, operation).get("properties", {}).items()
        }
        body.update(CASE.get(name, lambda v: {})(values))
        headers = await sign_in(client, CALLER.get(name, ADMIN))
        seen.clear()
        answer = await client.request(method, path.format(**values), json=body, headers=headers)
        assert answer.status_code < 500, (name, answer.text)
        if seen != documented:
            wrong[name] = {
                "read, not documented": sorted(seen - documented),
                "documented, not read": sorted(documented - seen),
                "status": answer.status_code,
            }
    assert not wrong, pformat(wrong)
