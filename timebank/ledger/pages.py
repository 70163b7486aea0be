"""The ledger's pages: my hours (passbook) and my printable statement; for coordinators,
the accounts of their communities, one account's movements and statement, reversing a
mistaken transaction, and checking a scanned statement."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank.http import post
from timebank.i18n import gettext_for, request_lang
from timebank.ledger import passbook
from timebank.ledger import service as ledger
from timebank.ledger.describe import describe
from timebank.ledger.hours import format_minutes
from timebank.ledger.queries import AccountView, statement_asked, whole_param
from timebank.ledger.rules import actor_key
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.web import posted_form, require_member, signed_in
from timebank.qr import qr_data_uri
from timebank.templating import render


def _secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


async def _movements(request: Request, view: AccountView) -> dict[str, Any]:
    """One page of an account's movements, newest first, each said in words, and the link
    to the older ones (``?before=``, checked: a 422 naming it, never a 500)."""
    page = await statement_asked(view.id, request.query_params)
    lang = request_lang(request)
    about = await describe(
        page.lines,
        account_id=view.id,
        owner=view.member_id,
        lang=lang,
        translate=lambda message: gettext_for(lang, message),
    )
    return {"balance": view.balance, "page": page, "lines": page.lines, "about": about}


@signed_in
async def my_hours_page(request: Request, who: SignedIn) -> Response:
    """The passbook page: balance in big type, then the movements, newest first, paged;
    mine, or (``?for=ID``) those of a family member who lets me act for them."""
    elder = await policy.elder_asked(who, request.query_params.get("for"))
    view = await ledger.account((await ledger.wallet(elder.id if elder else who.member.id)).id)
    context = {**await _movements(request, view), "hours": format_minutes, "elder": elder}
    return render(request, "ledger/passbook.html", context)


@signed_in
async def account_list(request: Request, who: SignedIn) -> Response:
    """Every account in the communities I coordinate, with its balance."""
    policy.require_coordinator(who)
    views = await ledger.accounts(communities=policy.coordinated_communities(who))
    return render(request, "ledger/accounts.html", {"accounts": views, "hours": format_minutes})


@signed_in
async def account_page(request: Request, who: SignedIn) -> Response:
    """One account's passbook, newest first and paged, with a reversal form per
    transaction for coordinators."""
    view = await policy.viewable_account(who, int(request.path_params["account_id"]))
    context = {
        **await _movements(request, view),
        "account": view,
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
    await policy.require_reversal_rights(who, txn_id)
    await ledger.reverse(
        txn_id=txn_id,
        key=actor_key(who.member.id, f"page-{form.get('key', '')}-{txn_id}"),
        actor_id=who.member.id,
        reason=str(form.get("reason", "")),
    )
    account_id = whole_param(str(form.get("account", "")), "account", 0)
    return RedirectResponse(f"/ledger/accounts/{account_id}", status_code=303)


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


@signed_in
async def my_statement(request: Request, who: SignedIn) -> Response:
    """My printable statement: every movement with its balance, and the proving QR."""
    wallet = await ledger.wallet(who.member.id)
    return await _print(request, wallet.id)


@signed_in
async def account_statement(request: Request, who: SignedIn) -> Response:
    """An account's printable statement (its owner, or a coordinator of its community)."""
    view = await policy.viewable_account(who, int(request.path_params["account_id"]))
    return await _print(request, view.id)


@signed_in
async def check_page(request: Request, who: SignedIn) -> Response:
    """What a coordinator sees on scanning a statement's QR: does the paper match?"""
    policy.require_coordinator(who)
    found = await passbook.check(_secret(request), request.path_params["statement"])
    view = await ledger.account(found.printed.account_id)
    policy.require(policy.coordinates(who, view.community_id))
    return render(
        request,
        "ledger/statement_check.html",
        {"check": found, "account": view, "hours": format_minutes},
    )


ACCOUNT = "/ledger/accounts/{account_id:int}"
routes = [
    Route("/me/hours", my_hours_page, name="my_hours_page"),
    Route("/me/statement", my_statement, name="my_statement"),
    Route("/statements/{statement}", check_page, name="statement_check"),
    Route("/ledger/accounts", account_list, name="ledger_accounts_page"),
    Route(ACCOUNT, account_page, name="ledger_account_page"),
    Route(f"{ACCOUNT}/statement", account_statement, name="account_statement"),
    post("/ledger/transactions/{txn_id:int}/reverse", reverse_submit, name="ledger_reverse_submit"),
]  # fmt: skip
