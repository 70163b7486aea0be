"""JSON API: sessions (password or one-time code) and the signed-in member."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank.errors import TimebankError
from timebank.http import read_json
from timebank.people.auth import SESSION_COOKIE, SignedIn, sign_in, sign_in_with_code, sign_out
from timebank.people.pages import set_session_cookie
from timebank.people.web import require_csrf, require_member


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
    member = signed_in.member
    return {
        "id": member.id,
        "name": member.name,
        "phone": member.phone,
        "member_no": member.member_no,
        "community": member.community_id,
        "roles": sorted(
            ({"role": role.value, "community": community} for role, community in signed_in.roles),
            key=lambda r: (r["role"], r["community"] or 0),
        ),
    }


async def create_session(request: Request) -> Response:
    """
    ---
    summary: Sign in with phone and password
    tags: [people]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [phone, password]
            properties: {phone: {type: string}, password: {type: string}}
    responses:
      "200":
        description: "Signed in; the cookie is set; use csrf_token for changes."
        content: {application/json: {schema: {$ref: "#/components/schemas/Session"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "429": {$ref: "#/components/responses/TooManyAttempts"}
    """
    body = await read_signin_json(request)
    client = request.client.host if request.client else ""
    cookie, signed_in = await sign_in(
        phone=str(body.get("phone", "")),
        password=str(body.get("password", "")),
        ip=client,
        user_agent=request.headers.get("user-agent", ""),
        secret_key=request.app.state.settings.secret_key,
    )
    return signed_in_response(request, cookie, signed_in)


def signed_in_response(request: Request, cookie: str, signed_in: SignedIn) -> Response:
    """The answer to a sign-in: the member and their CSRF token, with the session cookie."""
    response = JSONResponse(
        {"member": member_json(signed_in), "csrf_token": signed_in.session.csrf_token}
    )
    set_session_cookie(request, response, cookie)
    return response


async def session_with_code(request: Request) -> Response:
    """
    ---
    summary: Sign in with a one-time code from a coordinator
    tags: [people]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [phone, code]
            properties: {phone: {type: string}, code: {type: string}}
    responses:
      "200":
        description: "Signed in; the cookie is set"
        content: {application/json: {schema: {$ref: "#/components/schemas/Session"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "429": {$ref: "#/components/responses/TooManyAttempts"}
    """
    body = await read_signin_json(request)
    cookie, signed_in = await sign_in_with_code(
        phone=str(body.get("phone", "")),
        code=str(body.get("code", "")),
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
        secret_key=request.app.state.settings.secret_key,
    )
    return signed_in_response(request, cookie, signed_in)


async def delete_session(request: Request) -> Response:
    """
    ---
    summary: Sign out (needs the X-CSRF-Token header)
    tags: [people]
    responses:
      "204": {description: "Signed out; the session cannot be used again."}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    signed_in = require_member(request)
    require_csrf(request, signed_in, request.headers.get("x-csrf-token"))
    await sign_out(signed_in.session)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def who_am_i(request: Request) -> Response:
    """
    ---
    summary: The signed-in member and their roles
    tags: [people]
    responses:
      "200":
        description: "The member."
        content: {application/json: {schema: {$ref: "#/components/schemas/Me"}}}
      "401": {$ref: "#/components/responses/Unauthorized"}
    """
    return JSONResponse(member_json(require_member(request)))


routes = [
    Route("/session", create_session, methods=["POST"], name="session_create"),
    Route("/session", delete_session, methods=["DELETE"], name="session_delete"),
    Route("/session/code", session_with_code, methods=["POST"], name="session_code"),
    Route("/me", who_am_i, methods=["GET"], name="me"),
]
