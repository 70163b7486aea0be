"""The JSON API under ``/api/v1`` and its OpenAPI 3 document.

Each endpoint documents itself in its docstring: a summary line, then ``---`` and the
OpenAPI operation in YAML (Starlette's ``SchemaGenerator``). It declares only what is its own;
``complete`` adds what holds for every operation of its kind: security, the shared error
responses (``answers``), id ranges, and these short forms:

- a response written as a string, ``"201": "Visit: the visit, opened"``, is a JSON response
  whose schema is the named component (``[Visit]`` for a list), with the text after the colon
  as its description;
- ``requestBody: CheckIn`` is a required JSON body of that component schema;
- ``errors: [409]`` adds the shared responses for statuses beyond the usual ones;
- a parameter written as a name, ``parameters: [before, limit]``, is the shared query
  parameter of that name in ``PARAMETERS`` (the paging of a ledger's movements);
- ``tags`` need not be written: an operation is tagged with its feature (``TAGS``);
- a path's integer ids (``{order_id:int}`` in its route) need not be declared: an operation
  gets each one its ``parameters`` do not name, first, as a required integer.

Features add their ``api.routes`` to ``ROUTES`` and their component schemas (a module-level
``SCHEMAS`` dict, kept next to the code that parses the input) to ``FEATURE_SCHEMAS``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.schemas import SchemaGenerator

from timebank import __version__
from timebank.api_schemas import SCHEMAS
from timebank.catalog import api as catalog_api
from timebank.catalog import service as catalog_service
from timebank.ledger import api as ledger_api
from timebank.orders import api as orders_api
from timebank.pairing import api as pairing_api
from timebank.people import api as people_api
from timebank.people import members_api
from timebank.redeem import api as redeem_api
from timebank.redeem import gifts as redeem_gifts
from timebank.redeem import service as redeem_service
from timebank.reports import api as reports_api
from timebank.settlement import api as settlement_api
from timebank.visits import api as visits_api

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "not_found"},
                "message": {"type": "string", "description": "In the request's language."},
                "messages": {
                    "type": "object",
                    "description": "The same message in every UI language.",
                    "additionalProperties": {"type": "string"},
                },
                "details": {"type": "object"},
            },
        }
    },
}


async def index(request: Request) -> Response:
    """
    ---
    summary: Service name and version
    tags: [meta]
    responses:
      "200":
        description: What this API is.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Info"}
    """
    return JSONResponse(
        {"name": "timebank", "version": __version__, "openapi": "/api/v1/openapi.json"}
    )


# Operations anyone may call; every other one needs the session cookie, and writes the
# X-CSRF-Token header too (timebank.people.web.require_csrf).
PUBLIC = {("get", "/api/v1/"), ("post", "/api/v1/session"), ("post", "/api/v1/session/code")}
READS = {"get", "head"}
# Record ids are 32-bit on PostgreSQL; a larger one names nothing (404).
ID_RANGE = {"type": "integer", "format": "int32", "minimum": 1, "maximum": 2**31 - 1}
SECURITY_SCHEMES: dict[str, Any] = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "tb_session",
        "description": "Set by POST /session or /session/code.",
    },
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "The csrf_token of the sign-in answer; required on every write.",
    },
}
ERRORS = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "403": "Forbidden",
    "404": "NotFound",
    "409": "Conflict",
    "413": "TooLarge",
    "415": "UnsupportedMediaType",
    "422": "Invalid",
    "429": "TooManyAttempts",
}


def answers(method: str, path: str, operation: dict[str, Any]) -> set[str]:
    """The error statuses every operation of this kind can answer, whatever its docstring."""
    found = set()
    has_body = "requestBody" in operation
    parameters = operation.get("parameters", [])
    text_in_path = any(p["in"] == "path" and p["schema"]["type"] == "string" for p in parameters)
    if has_body or text_in_path or any(p["in"] == "query" for p in parameters):
        found.add("400")  # bad JSON, a bad query parameter, text no one can type (NUL)
    if (method, path) not in PUBLIC:
        found.add("401")
        if method not in READS:
            found.add("403")  # no or wrong CSRF token
    if "{" in path:
        found.add("404")
    if has_body:
        found |= {"413", "422"}  # too large (1 MB of JSON), a field the service refuses
    if (method, path) in PUBLIC and has_body:
        found |= {"415", "429"}  # sign-in: JSON only, and throttled
    return found


def _schema_ref(name: str) -> dict[str, Any]:
    name = name.strip()
    if name.startswith("[") and name.endswith("]"):
        return {"type": "array", "items": _schema_ref(name[1:-1])}
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _schema_ref(name)}}


_SEQ = {"type": "integer", "maximum": 9223372036854775807}
PARAMETERS: dict[str, dict[str, Any]] = {
    "before": {"name": "before", "in": "query", "schema": {**_SEQ, "minimum": 1},
               "description": "newest first (the default): next_before of the page before"},
    "after": {"name": "after", "in": "query", "schema": {**_SEQ, "minimum": 0},
              "description": "oldest first from here: the last seq seen (not with before)"},
    "limit": {"name": "limit", "in": "query",
              "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
    "since": {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    "until": {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
}  # fmt: skip


def expand(operation: dict[str, Any]) -> None:
    """Turn the short forms of an operation's docstring into OpenAPI (see the module doc)."""
    if "parameters" in operation:
        operation["parameters"] = [
            dict(PARAMETERS[p]) if isinstance(p, str) else p for p in operation["parameters"]
        ]
    for status, response in list(operation.get("responses", {}).items()):
        if isinstance(response, str):
            name, _, text = response.partition(":")
            operation["responses"][status] = {
                "description": text.strip() or name.strip(),
                "content": _json_content(name),
            }
    if isinstance(operation.get("requestBody"), str):
        operation["requestBody"] = {
            "required": True,
            "content": _json_content(operation["requestBody"]),
        }
    for status in operation.pop("errors", []):
        operation.setdefault("responses", {}).setdefault(
            str(status), {"$ref": f"#/components/responses/{ERRORS[str(status)]}"}
        )


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add what holds for every operation: security, required bodies, the shared errors."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            expand(operation)
            if (method, path) in PUBLIC:
                operation["security"] = []
            elif method in READS:
                operation["security"] = [{"session": []}]
            else:
                operation["security"] = [{"session": [], "csrf": []}]
            if "requestBody" in operation:
                operation["requestBody"].setdefault("required", True)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    parameter["schema"].update(ID_RANGE)
            responses = operation.setdefault("responses", {})
            for status in sorted(answers(method, path, operation)):
                responses.setdefault(status, {"$ref": f"#/components/responses/{ERRORS[status]}"})
            operation["responses"] = dict(sorted(responses.items()))
    return document


def openapi_document(api_routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3 document for ``api_routes`` (mounted at ``/api/v1``)."""
    generator = SchemaGenerator(
        {
            "openapi": "3.0.3",
            "info": {
                "title": "timebank API",
                "version": __version__,
                "description": "Community time bank and mutual aid (时间银行 · 困困结对).",
            },
            "components": {
                "securitySchemes": SECURITY_SCHEMES,
                "schemas": {"Error": ERROR_SCHEMA, **SCHEMAS, **FEATURE_SCHEMAS},
                "responses": {
                    name: {
                        "description": name,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    }
                    for name in ERRORS.values()
                },
            },
        }
    )
    document = generator.get_schema([Mount("/api/v1", routes=api_routes)])
    return complete(with_tags(with_path_ids(document, api_routes), api_routes))


# The tag that groups a feature's operations in the document, by the package serving them.
TAGS = {
    "catalog": "catalog",
    "ledger": "ledger",
    "orders": "orders",
    "pairing": "pairings",
    "people": "people",
    "redeem": "redeem",
    "reports": "reports",
    "settlement": "settlement",
    "visits": "visits",
}


def with_tags(document: dict[str, Any], api_routes: list[BaseRoute]) -> dict[str, Any]:
    """Each operation its docstring leaves untagged tagged with its feature's ``TAGS``."""
    for route in api_routes:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        operations = document["paths"].get("/api/v1" + route.path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is not None and "tags" not in operation:
                feature = route.endpoint.__module__.split(".")[1]  # timebank.<feature>.api
                operation["tags"] = [TAGS[feature]]
    return document


def with_path_ids(document: dict[str, Any], api_routes: list[BaseRoute]) -> dict[str, Any]:
    """Each operation with its path's integer ids declared (those its docstring leaves out)."""
    for route in api_routes:
        if not isinstance(route, Route):
            continue
        ids = [n for n, c in route.param_convertors.items() if isinstance(c.convert("1"), int)]
        for operation in document["paths"].get("/api/v1" + route.path_format, {}).values():
            named = {
                p if isinstance(p, str) else p["name"] for p in operation.get("parameters", [])
            }
            missing = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
                for name in ids
                if name not in named
            ]
            if missing:
                operation["parameters"] = missing + operation.get("parameters", [])
    return document


async def openapi(request: Request) -> Response:
    """The OpenAPI document, built once per app."""
    return JSONResponse(request.app.state.openapi)


# Component schemas kept by the features next to the code that reads them.
FEATURE_SCHEMAS: dict[str, Any] = {
    **ledger_api.SCHEMAS,
    **people_api.SCHEMAS,
    **members_api.SCHEMAS,
    **visits_api.SCHEMAS,
    **orders_api.SCHEMAS,
    **pairing_api.SCHEMAS,
    **catalog_service.SCHEMAS,
    **redeem_service.SCHEMAS,
    **redeem_gifts.SCHEMAS,
}

ROUTES: list[BaseRoute] = [
    *visits_api.routes,  # first: check-in and check-out are the busiest calls
    Route("/", index, name="index"),
    *people_api.routes,
    *members_api.routes,
    *catalog_api.routes,
    *pairing_api.routes,
    *orders_api.routes,
    *redeem_api.routes,
    *settlement_api.routes,
    *reports_api.routes,
    *ledger_api.routes,
]
routes: list[BaseRoute] = [*ROUTES, Route("/openapi.json", openapi, include_in_schema=False)]
