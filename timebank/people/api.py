"""JSON API: sessions (password or one-time code) and the signed-in member (who I am, my
password, my consent)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.bodies import body
from timebank.errors import Invalid, TimebankError
from timebank.http import post, read_json
from timebank.people import auth, members
from timebank.people.auth import SESSION_COOKIE, SignedIn, sign_in, sign_in_with_code, sign_out
from timebank.people.directory import card
from timebank.people.models import Member
from timebank.people.web import actor_of, changing, require_member, set_session_cookie

TEXT = {"type": "string"}
# The request bodies read here, for the OpenAPI document (timebank.api.FEATURE_SCHEMAS).
SCHEMAS: dict[str, Any] = {
    "PasswordSignIn": body(["phone", "password"], phone=TEXT, password=TEXT),
    "CodeSignIn": body(["phone", "code"], phone=TEXT, code=TEXT),
    "PasswordChange": body(["new"], current=TEXT, new={"type": "string", "minLength": 8}),
    "ConsentChange": body(["consent"], consent={"type": "boolean"}),
}


SigningIn = Callable[..., Awaitable[tuple[str, SignedIn]]]


class NotJson(TimebankError):
    """A sign-in that is not sent as JSON."""

    status, code = 415, "json_required"


async def read_signin_json(request: Request) -> dict[str, Any]:
    """The body of a sign-in call, which must say it is JSON.

    A page on another site can post a form (urlencoded, multipart, text/plain) to us
    without asking, but not ``application/json``: the browser would ask us first (CORS),
    and we never say yes. So a cross-site page cannot sign a visitor in (login CSRF)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise NotJson(
            "Send the sign-in as JSON (Content-Type: application/json).",
            "请以 JSON 格式提交登录信息（Content-Type: application/json）。",
        )
    return await read_json(request)


def member_json(signed_in: SignedIn) -> dict[str, Any]:
    """The signed-in member as the API shows them."""
    return {
        **card(signed_in.member),
        "roles": sorted(
            ({"role": role.value, "community": community} for role, community in signed_in.roles),
            key=lambda r: (r["role"], r["community"] or 0),
        ),
    }


async def create_session(request: Request) -> Response:
    """
    ---
    summary: Sign in with phone and password
    requestBody: PasswordSignIn
    responses: {"200": "Session: Signed in; the cookie is set; use csrf_token for changes."}
    errors: [401]
    """
    return await _signed_in(request, sign_in, "password")


async def session_with_code(request: Request) -> Response:
    """
    ---
    summary: Sign in with a one-time code from a coordinator
    requestBody: CodeSignIn
    responses: {"200": "Session: Signed in; the cookie is set"}
    errors: [401]
    """
    return await _signed_in(request, sign_in_with_code, "code")


async def _signed_in(request: Request, signing_in: SigningIn, secret: str) -> Response:
    """Sign in with the phone and ``secret`` (the password or a code) of the JSON body; the
    answer is the member and their CSRF token, with the session cookie."""
    body = await read_signin_json(request)
    cookie, signed_in = await signing_in(
        phone=str(body.get("phone", "")),
        **{secret: str(body.get(secret, ""))},
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
        secret_key=request.app.state.settings.secret_key,
    )
    response = JSONResponse(
        {"member": member_json(signed_in), "csrf_token": signed_in.session.csrf_token}
    )
    set_session_cookie(request, response, cookie)
    return response


async def delete_session(request: Request) -> Response:
    """
    ---
    summary: Sign out (needs the X-CSRF-Token header)
    responses: {"204": {description: "Signed out; the session cannot be used again."}}
    """
    await sign_out(changing(request).session)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def who_am_i(request: Request) -> Response:
    """
    ---
    summary: The signed-in member and their roles
    responses: {"200": "Me: The member."}
    """
    return JSONResponse(member_json(require_member(request)))


async def change_password(request: Request) -> Response:
    """
    ---
    summary: Change my password (other sessions are signed out)
    description: >-
      A wrong current password counts as a failed sign-in of the member's phone: after 5 in
      15 minutes the answer is 429 (a stolen session cannot guess the password).
    requestBody: PasswordChange
    responses: {"204": {description: "Changed"}}
    errors: [429]
    """
    who = changing(request)
    body = await read_json(request)
    await auth.change_password(
        who,
        current=str(body.get("current", "")),
        new=str(body.get("new", "")),
        ip=request.client.host if request.client else "",
    )
    return Response(status_code=204)


async def my_consent(request: Request) -> Response:
    """
    ---
    summary: Give or withdraw my consent to the use of my data (and location at check-in)
    requestBody: ConsentChange
    responses: {"200": "Consent: consent (true or false) and since when"}
    """
    who = changing(request)
    body = await read_json(request)
    given = body.get("consent")
    if not isinstance(given, bool):
        raise Invalid(
            'Send {"consent": true} to agree or {"consent": false} to withdraw.',
            '请发送 {"consent": true} 表示同意，或 {"consent": false} 表示撤回。',
            code="bad_consent",
        )
    member = await members.set_consent(actor_of(request, who), who.member, given)
    return JSONResponse(consent_json(member))


def consent_json(member: Member) -> dict[str, Any]:
    """Whether the member consents, and since when."""
    at = member.consent_at
    return {"consent": at is not None, "consent_at": at.isoformat() if at else None}


routes = [
    post("/session", create_session, name="session_create"),
    Route("/session", delete_session, methods=["DELETE"], name="session_delete"),
    post("/session/code", session_with_code, name="session_code"),
    Route("/me", who_am_i, methods=["GET"], name="me"),
    Route("/me/password", change_password, methods=["PUT"]),
    Route("/me/consent", my_consent, methods=["PUT"]),
]
