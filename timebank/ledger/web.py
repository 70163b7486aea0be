"""My hours: balance and statement (passbook), as JSON and as a printable page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from timebank import inputs
from timebank.ledger import service as ledger
from timebank.ledger.hours import format_minutes
from timebank.ledger.queries import StatementLine
from timebank.people.web import me, require_member
from timebank.templating import render

PAGE = 50


def int_param(
    value: str | None, name: str, default: int, *, low: int = 0, high: int = inputs.SEQ_MAX
) -> int:
    """A whole-number query parameter within ``low..high`` (a 422 naming it), or ``default``."""
    if value in (None, ""):
        return default
    return inputs.whole_number(value, name, low=low, high=high)


def time_param(value: str | None, name: str) -> datetime | None:
    """A time with its zone within the service's window, or None when not given."""
    return inputs.parse_moment(value, name) if value else None


async def statement_lines(request: Request, account_id: int) -> list[StatementLine]:
    """The statement lines the query asks for (after, limit, since, until)."""
    query = request.query_params
    return await ledger.statement(
        account_id=account_id,
        since=time_param(query.get("since"), "since"),
        until=time_param(query.get("until"), "until"),
        after_seq=int_param(query.get("after"), "after", 0),
        limit=int_param(query.get("limit"), "limit", PAGE, low=-inputs.SEQ_MAX),
    )


async def statement_page(request: Request, account_id: int) -> dict[str, Any]:
    """The same lines as JSON, with where the next page starts (None on the last)."""
    lines = await statement_lines(request, account_id)
    full = len(lines) == int_param(request.query_params.get("limit"), "limit", PAGE, low=1)
    return {
        "lines": [line.as_json() for line in lines],
        "next_after": lines[-1].seq if full else None,
    }


async def my_hours_api(request: Request) -> Response:
    """
    ---
    summary: My hours balance and statement (passbook), paged by seq
    tags: [ledger]
    parameters:
      - name: after
        in: query
        schema: {type: integer, minimum: 0, maximum: 9223372036854775807}
        description: "last seq seen"
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500}}
      - {name: since, in: query, schema: {type: string, format: date-time}}
      - {name: until, in: query, schema: {type: string, format: date-time}}
    responses:
      "200":
        description: "Balance in minutes and the movements."
        content: {application/json: {schema: {$ref: "#/components/schemas/MyHours"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    wallet = await ledger.wallet(require_member(request).member.id)
    balance = await ledger.balance(wallet.id)
    return JSONResponse({"balance": balance.as_json(), **await statement_page(request, wallet.id)})


async def my_hours_page(request: Request) -> Response:
    """The passbook page: balance in big type, then every movement with its balance."""
    signed_in = me(request)
    if signed_in is None:
        return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)
    wallet = await ledger.wallet(signed_in.member.id)
    lines = await statement_lines(request, wallet.id)
    context = {"balance": await ledger.balance(wallet.id), "lines": lines}
    return render(request, "ledger/passbook.html", {**context, "hours": format_minutes})


api_routes = [Route("/me/hours", my_hours_api, name="my_hours")]
page_routes = [Route("/me/hours", my_hours_page, name="my_hours_page")]
