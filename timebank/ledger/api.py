"""JSON API of the ledger: my hours, accounts, statements, transactions, reversals,
checkpoints, and checking a printed statement's QR."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.bodies import body
from timebank.errors import Invalid
from timebank.http import post, read_json
from timebank.ledger import passbook
from timebank.ledger import service as ledger
from timebank.ledger.models import Entry, LedgerTxn
from timebank.ledger.queries import statement_asked
from timebank.ledger.rules import actor_key, check_key
from timebank.people import policy
from timebank.people.web import changing, require_member

# The request bodies this module reads.
SCHEMAS: dict[str, Any] = {
    "Reversal": body(
        ["reason", "idempotency_key"],
        reason={"type": "string"},
        idempotency_key={"type": "string", "minLength": 1, "maxLength": 128},
    ),
    "NewCheckpoint": body([], note={"type": "string", "maxLength": 200}),
}


def _secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


def txn_json(txn: LedgerTxn, entries: list[Entry]) -> dict[str, Any]:
    """A transaction and its legs."""
    return {
        "id": txn.id,
        "kind": txn.kind.value,
        "reason": txn.reason,
        "ref": {"type": txn.ref_type, "id": txn.ref_id} if txn.ref_type else None,
        "actor": txn.actor_id,
        "on_behalf_of": txn.on_behalf_of_id,
        "reverses": txn.reverses_id,
        "resolves": txn.resolves_id,
        "at": txn.created_at.isoformat(),
        "entries": [
            {
                "seq": e.seq,
                "account": e.account_id,
                "amount_minutes": e.amount,
                "phase": e.phase.value,
                "hash": e.hash,
            }
            for e in entries
        ],
    }


async def _statement_json(request: Request, account_id: int) -> dict[str, Any]:
    """The page the query asks for, with where the next page starts (None on the last)."""
    return (await statement_asked(account_id, request.query_params)).as_json()


async def my_hours(request: Request) -> Response:
    """
    ---
    summary: My hours balance and movements (passbook), newest first, paged
    parameters: [before, after, limit, since, until]
    responses: {"200": "MyHours: Balance in minutes and the movements."}
    errors: [422]
    """
    wallet = await ledger.wallet(require_member(request).member.id)
    balance = await ledger.balance(wallet.id)
    return JSONResponse({"balance": balance.as_json(), **await _statement_json(request, wallet.id)})


async def get_account(request: Request) -> Response:
    """
    ---
    summary: An account and its balance (own wallet, or a coordinated community's)
    responses: {"200": "Account: The account."}
    errors: [403]
    """
    who = require_member(request)
    view = await policy.viewable_account(who, int(request.path_params["account_id"]))
    return JSONResponse(view.as_json())


async def get_statement(request: Request) -> Response:
    """
    ---
    summary: An account's movements, newest first, paged, optionally for a period
    parameters: [before, after, limit, since, until]
    responses: {"200": "Statement: The movements."}
    errors: [403, 422]
    """
    who = require_member(request)
    view = await policy.viewable_account(who, int(request.path_params["account_id"]))
    return JSONResponse({"account": view.as_json(), **await _statement_json(request, view.id)})


async def get_transaction(request: Request) -> Response:
    """
    ---
    summary: A transaction with its entries
    responses: {"200": "Transaction: The transaction."}
    errors: [403]
    """
    who = require_member(request)
    txn, entries = await ledger.transaction(int(request.path_params["txn_id"]))
    await policy.require_transaction_view(who, entries)
    return JSONResponse(txn_json(txn, entries))


async def reverse_transaction(request: Request) -> Response:
    """
    ---
    summary: Reverse a transaction (coordinators of every community it touches; reason needed)
    requestBody: Reversal
    responses:
      "201": "Transaction: The reversal."
      "200": "Transaction: The same request again: the reversal made the first time."
    errors: [409]
    """
    who = changing(request)
    body = await read_json(request)
    txn_id = int(request.path_params["txn_id"])
    await policy.require_reversal_rights(who, txn_id)
    posted = await ledger.reverse(
        txn_id=txn_id,
        key=actor_key(who.member.id, check_key(body.get("idempotency_key", ""))),
        actor_id=who.member.id,
        reason=str(body.get("reason", "")),
    )
    txn, entries = await ledger.transaction(posted.txn.id)
    return JSONResponse(txn_json(txn, entries), status_code=201 if posted.created else 200)


async def list_checkpoints(request: Request) -> Response:
    """
    ---
    summary: Recorded checkpoints (coordinators and admins)
    responses: {"200": "CheckpointList: Checkpoints, newest first."}
    errors: [403]
    """
    policy.require_coordinator(require_member(request))
    return JSONResponse([ledger.checkpoint_json(c) for c in await ledger.checkpoints()])


async def create_checkpoint(request: Request) -> Response:
    """
    ---
    summary: Record the chain head as a checkpoint to print or publish
    requestBody: NewCheckpoint
    responses: {"201": "Checkpoint: The checkpoint."}
    """
    who = changing(request)
    policy.require_coordinator(who)
    body = await read_json(request)
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > 200:
        raise Invalid(
            "note must be text of at most 200 characters.",
            "备注必须是不超过 200 字的文字。",
            code="invalid_note",
        )
    checkpoint = await ledger.create_checkpoint(actor_id=who.member.id, note=note)
    return JSONResponse(ledger.checkpoint_json(checkpoint), status_code=201)


async def check_statement(request: Request) -> Response:
    """
    ---
    summary: Check a printed statement's QR against the ledger
    parameters: [{name: statement, in: path, required: true, schema: {type: string}}]
    responses: {"200": "StatementCheck: matches, and the printed and ledger figures"}
    errors: [403]
    """
    who = require_member(request)
    policy.require_coordinator(who)
    found = await passbook.check(_secret(request), request.path_params["statement"])
    view = await ledger.account(found.printed.account_id)
    policy.require(policy.coordinates(who, view.community_id))
    return JSONResponse(passbook.check_json(found, view))


ACCOUNT = "/ledger/accounts/{account_id:int}"
TXN = "/ledger/transactions/{txn_id:int}"
CHECKPOINTS = "/ledger/checkpoints"
routes = [
    Route("/me/hours", my_hours, name="my_hours"),
    Route(ACCOUNT, get_account, name="ledger_account"),
    Route(f"{ACCOUNT}/statement", get_statement, name="ledger_statement"),
    Route(TXN, get_transaction, name="ledger_transaction"),
    post(f"{TXN}/reversal", reverse_transaction, name="ledger_reversal"),
    Route(CHECKPOINTS, list_checkpoints, methods=["GET"], name="ledger_checkpoints"),
    post(CHECKPOINTS, create_checkpoint, name="ledger_checkpoint_create"),
    Route("/statements/{statement}", check_statement, methods=["GET"]),
]
