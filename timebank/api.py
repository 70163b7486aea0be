"""The JSON API under ``/api/v1`` and its OpenAPI 3 document.

Each endpoint documents itself in its docstring: a summary line, then ``---`` and the
OpenAPI operation in YAML (Starlette's ``SchemaGenerator``). Features add their ``api.routes``
to ``ROUTES``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.schemas import SchemaGenerator

from timebank import __version__
from timebank.catalog import api as catalog_api
from timebank.ledger import api as ledger_api
from timebank.ledger import passbook_web
from timebank.ledger import web as ledger_web
from timebank.orders import api as orders_api
from timebank.pairing import api as pairing_api
from timebank.people import api as people_api
from timebank.people import members_api
from timebank.redeem import api as redeem_api
from timebank.reports import pages as reports_pages
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
            schema:
              type: object
              properties:
                name: {type: string}
                version: {type: string}
                openapi: {type: string}
    """
    return JSONResponse(
        {"name": "timebank", "version": __version__, "openapi": "/api/v1/openapi.json"}
    )


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
                "schemas": {"Error": ERROR_SCHEMA},
                "responses": {
                    name: {
                        "description": name,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    }
                    for name in (
                        "BadRequest",
                        "Unauthorized",
                        "Forbidden",
                        "NotFound",
                        "Conflict",
                        "Invalid",
                        "TooManyAttempts",
                    )
                },
            },
        }
    )
    return generator.get_schema([Mount("/api/v1", routes=api_routes)])


async def openapi(request: Request) -> Response:
    """The OpenAPI document, built once per app."""
    return JSONResponse(request.app.state.openapi)


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
    *reports_pages.api_routes,
    *ledger_web.api_routes,
    *ledger_api.routes,
    *passbook_web.api_routes,
]
routes: list[BaseRoute] = [*ROUTES, Route("/openapi.json", openapi, include_in_schema=False)]
