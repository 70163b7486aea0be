"""Printed statements (passbooks) with their QR, and checking a scanned one."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.ledger import passbook
from timebank.ledger import service as ledger
from timebank.ledger.hours import format_minutes
from timebank.people import policy
from timebank.people.web import me, require_member, signin_redirect
from timebank.qr import qr_data_uri
from timebank.templating import render


def _secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


async def _print(request: Request, account_id: int) -> Response:
    view = await ledger.account(account_id)
    printed = await passbook.lines_of(account_id)
    lines = printed.lines
    summary = await passbook.summary(account_id, lines[-1].seq if lines else 0)
    token = passbook.sign(_secret(request), summary)
    base = request.app.state.settings.base_url.rstrip("/")
    return render(
        request,
        "ledger/statement.html",
        {
            "account": view,
            "lines": lines,
            "earlier": printed.earlier,
            "brought_forward": printed.brought_forward,
            "summary": summary,
            "qr": qr_data_uri(f"{base}/statements/{token}"),
            "token": token,
            "printed_at": datetime.now(UTC),
            "hours": format_minutes,
        },
    )


async def my_statement(request: Request) -> Response:
    """My printable statement: every movement with its balance, and the proving QR."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    wallet = await ledger.wallet(who.member.id)
    return await _print(request, wallet.id)


async def account_statement(request: Request) -> Response:
    """An account's printable statement (its owner, or a coordinator of its community)."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    view = await ledger.account(int(request.path_params["account_id"]))
    policy.require(
        policy.can_view_account(who, member_id=view.member_id, community_id=view.community_id)
    )
    return await _print(request, view.id)


async def check_page(request: Request) -> Response:
    """What a coordinator sees on scanning a statement's QR: does the paper match?"""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    policy.require_coordinator(who)
    found = await passbook.check(_secret(request), request.path_params["statement"])
    view = await ledger.account(found.printed.account_id)
    policy.require(policy.coordinates(who, view.community_id))
    return render(
        request,
        "ledger/statement_check.html",
        {"check": found, "account": view, "hours": format_minutes},
    )


async def check_api(request: Request) -> Response:
    """
    ---
    summary: Check a printed statement's QR against the ledger
    tags: [ledger]
    parameters:
      - {name: statement, in: path, required: true, schema: {type: string}}
    responses:
      "200":
        description: "matches, and the printed and ledger figures"
        content: {application/json: {schema: {$ref: "#/components/schemas/StatementCheck"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    who = require_member(request)
    policy.require_coordinator(who)
    found = await passbook.check(_secret(request), request.path_params["statement"])
    view = await ledger.account(found.printed.account_id)
    policy.require(policy.coordinates(who, view.community_id))
    return JSONResponse(
        {
            "matches": found.matches,
            "account": view.id,
            "member": view.member_id,
            "member_name": view.member_name,
            "printed": {
                "through_seq": found.printed.through_seq,
                "count": found.printed.count,
                "balance_minutes": found.printed.balance,
            },
            "ledger": {
                "through_seq": found.ledger.through_seq,
                "count": found.ledger.count,
                "balance_minutes": found.ledger.balance,
            },
            "available_now_minutes": found.current_balance,
        }  # fmt: skip
    )


page_routes = [
    Route("/me/statement", my_statement, name="my_statement"),
    Route(
        "/ledger/accounts/{account_id:int}/statement",
        account_statement,
        name="account_statement",
    ),
    Route("/statements/{statement}", check_page, name="statement_check"),
]
api_routes = [Route("/statements/{statement}", check_api, methods=["GET"])]
