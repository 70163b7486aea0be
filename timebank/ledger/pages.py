"""Coordinators' ledger pages: the accounts of their communities, one account's movements,
and reversing a mistaken transaction."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank.ledger import service as ledger
from timebank.ledger.api import require_reversal_rights
from timebank.ledger.hours import format_minutes
from timebank.ledger.rules import actor_key
from timebank.ledger.web import PAGE, int_param
from timebank.people import policy
from timebank.people.web import me, posted_form, require_member, signin_redirect
from timebank.templating import render


async def account_list(request: Request) -> Response:
    """Every account in the communities I coordinate, with its balance."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    policy.require(policy.coordinates_any(who))
    views = await ledger.accounts(communities=policy.coordinated_communities(who))
    return render(request, "ledger/accounts.html", {"accounts": views, "hours": format_minutes})


async def account_page(request: Request) -> Response:
    """One account's passbook, with a reversal form per transaction for coordinators."""
    who = me(request)
    if who is None:
        return signin_redirect(request)
    view = await ledger.account(int(request.path_params["account_id"]))
    policy.require(
        policy.can_view_account(who, member_id=view.member_id, community_id=view.community_id)
    )
    lines = await ledger.statement(
        account_id=view.id,
        after_seq=int_param(request.query_params.get("after"), "after", 0),
        limit=PAGE,
    )
    context = {
        "account": view,
        "balance": view.balance,
        "lines": lines,
        "hours": format_minutes,
        "can_reverse": policy.coordinates(who, view.community_id),
        # One key per page view: a double-submitted form reverses once.
        "reversal_key": secrets.token_urlsafe(16),
    }
    return render(request, "ledger/account.html", context)


async def reverse_submit(request: Request) -> Response:
    """Reverse a transaction from the account page (coordinators; reason required)."""
    who = require_member(request)
    form = await posted_form(request, who)
    txn_id = int(request.path_params["txn_id"])
    await require_reversal_rights(who, txn_id)
    await ledger.reverse(
        txn_id=txn_id,
        key=actor_key(who.member.id, f"page-{form.get('key', '')}-{txn_id}"),
        actor_id=who.member.id,
        reason=str(form.get("reason", "")),
    )
    account_id = int_param(str(form.get("account", "")), "account", 0)
    return RedirectResponse(f"/ledger/accounts/{account_id}", status_code=303)


routes = [
    Route("/ledger/accounts", account_list, name="ledger_accounts_page"),
    Route("/ledger/accounts/{account_id:int}", account_page, name="ledger_account_page"),
    Route(
        "/ledger/transactions/{txn_id:int}/reverse",
        reverse_submit,
        methods=["POST"],
        name="ledger_reverse_submit",
    ),
]
