"""JSON API of the ledger: accounts, statements, transactions, reversals, checkpoints."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.errors import Invalid
from timebank.http import read_json
from timebank.ledger import service as ledger
from timebank.ledger.models import Entry, LedgerTxn
from timebank.ledger.rules import actor_key, check_key
from timebank.ledger.web import statement_page
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.web import require_csrf, require_member


async def _visible_account(request: Request, who: SignedIn) -> ledger.AccountView:
    view = await ledger.account(int(request.path_params["account_id"]))
    policy.require(
        policy.can_view_account(who, member_id=view.member_id, community_id=view.community_id)
    )
    return view


def txn_json(txn: LedgerTxn, entries: list[Entry]) -> dict[str, Any]:
    """A transaction and its legs."""
    return {
        "id": txn.id,
        "kind": txn.kind.value,
        "reason": txn.reason,
        "ref": {"type": txn.ref_type, "id": txn.ref_id} if txn.ref_type else None,
        "actor": txn.actor_id,  # type: ignore[attr-defined]
        "on_behalf_of": txn.on_behalf_of_id,  # type: ignore[attr-defined]
        "reverses": txn.reverses_id,  # type: ignore[attr-defined]
        "resolves": txn.resolves_id,  # type: ignore[attr-defined]
        "at": txn.created_at.isoformat(),
        "entries": [
            {
                "seq": e.seq,
                "account": e.account_id,  # type: ignore[attr-defined]
                "amount_minutes": e.amount,
                "phase": e.phase.value,
                "hash": e.hash,
            }
            for e in entries
        ],
    }


async def get_account(request: Request) -> Response:
    """
    ---
    summary: An account and its balance (own wallet, or a coordinated community's)
    tags: [ledger]
    parameters:
      - {name: account_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "The account."
        content: {application/json: {schema: {$ref: "#/components/schemas/Account"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    return JSONResponse((await _visible_account(request, require_member(request))).as_json())


async def get_statement(request: Request) -> Response:
    """
    ---
    summary: An account's movements, paged by seq, optionally for a period
    tags: [ledger]
    parameters:
      - {name: account_id, in: path, required: true, schema: {type: integer}}
      - {name: after, in: query, schema: {type: integer, minimum: 0, maximum: 9223372036854775807}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500}}
      - {name: since, in: query, schema: {type: string, format: date-time}}
      - {name: until, in: query, schema: {type: string, format: date-time}}
    responses:
      "200":
        description: "The movements."
        content: {application/json: {schema: {$ref: "#/components/schemas/Statement"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    view = await _visible_account(request, require_member(request))
    return JSONResponse({"account": view.as_json(), **await statement_page(request, view.id)})


async def _visible_txn(request: Request, who: SignedIn) -> tuple[LedgerTxn, list[Entry]]:
    txn, entries = await ledger.transaction(int(request.path_params["txn_id"]))
    views = [await ledger.account(e.account_id) for e in entries]  # type: ignore[attr-defined]
    policy.require(
        any(
            policy.can_view_account(who, member_id=v.member_id, community_id=v.community_id)
            for v in views
        )
    )
    return txn, entries


async def get_transaction(request: Request) -> Response:
    """
    ---
    summary: A transaction with its entries
    tags: [ledger]
    parameters:
      - {name: txn_id, in: path, required: true, schema: {type: integer}}
    responses:
      "200":
        description: "The transaction."
        content: {application/json: {schema: {$ref: "#/components/schemas/Transaction"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    return JSONResponse(txn_json(*await _visible_txn(request, require_member(request))))


async def reverse_transaction(request: Request) -> Response:
    """
    ---
    summary: Reverse a transaction (coordinators of every community it touches; reason needed)
    tags: [ledger]
    parameters:
      - {name: txn_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [reason, idempotency_key]
            properties:
              reason: {type: string}
              idempotency_key: {type: string, minLength: 1, maxLength: 128}
    responses:
      "201":
        description: "The reversal."
        content: {application/json: {schema: {$ref: "#/components/schemas/Transaction"}}}
      "200":
        description: "The same request again: the reversal made the first time."
        content: {application/json: {schema: {$ref: "#/components/schemas/Transaction"}}}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Conflict"}
      "422": {$ref: "#/components/responses/Invalid"}
    """
    who = require_member(request)
    require_csrf(request, who, request.headers.get("x-csrf-token"))
    body = await read_json(request)
    txn_id = int(request.path_params["txn_id"])
    await require_reversal_rights(who, txn_id)
    posted = await ledger.reverse(
        txn_id=txn_id,
        key=actor_key(who.member.id, check_key(body.get("idempotency_key", ""))),
        actor_id=who.member.id,
        reason=str(body.get("reason", "")),
    )
    txn, entries = await ledger.transaction(posted.txn.id)
    return JSONResponse(txn_json(txn, entries), status_code=201 if posted.created else 200)


async def require_reversal_rights(who: SignedIn, txn_id: int) -> None:
    """Only a coordinator of every community the transaction touches may reverse it, and
    never one whose own (or whose family's) wallet it touches: giving back one's own
    spent hours would be minting them alone."""
    _, entries = await ledger.transaction(txn_id)
    accounts = [await ledger.account(e.account_id) for e in entries]  # type: ignore[attr-defined]
    policy.require(all(policy.coordinates(who, a.community_id) for a in accounts))
    owners = {a.member_id for a in accounts if a.member_id is not None}
    if owners:
        policy.require(not await policy.own_or_family_of(who, owners))


async def list_checkpoints(request: Request) -> Response:
    """
    ---
    summary: Recorded checkpoints (coordinators and admins)
    tags: [ledger]
    responses:
      "200":
        description: "Checkpoints, newest first."
        content: {application/json: {schema: {$ref: "#/components/schemas/CheckpointList"}}}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    policy.require(policy.coordinates_any(who))
    return JSONResponse([ledger.checkpoint_json(c) for c in await ledger.checkpoints()])


async def create_checkpoint(request: Request) -> Response:
    """
    ---
    summary: Record the chain head as a checkpoint to print or publish
    tags: [ledger]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties: {note: {type: string, maxLength: 200}}
    responses:
      "201":
        description: "The checkpoint."
        content: {application/json: {schema: {$ref: "#/components/schemas/Checkpoint"}}}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    who = require_member(request)
    require_csrf(request, who, request.headers.get("x-csrf-token"))
    policy.require(policy.coordinates_any(who))
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


routes = [
    Route("/ledger/accounts/{account_id:int}", get_account, name="ledger_account"),
    Route("/ledger/accounts/{account_id:int}/statement", get_statement, name="ledger_statement"),
    Route("/ledger/transactions/{txn_id:int}", get_transaction, name="ledger_transaction"),
    Route(
        "/ledger/transactions/{txn_id:int}/reversal",
        reverse_transaction,
        methods=["POST"],
        name="ledger_reversal",
    ),
    Route("/ledger/checkpoints", list_checkpoints, methods=["GET"], name="ledger_checkpoints"),
    Route(
        "/ledger/checkpoints", create_checkpoint, methods=["POST"], name="ledger_checkpoint_create"
    ),
]
