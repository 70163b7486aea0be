"""Sign-in (password or one-time code), sign-out, and my pages: profile, password, consent."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank.errors import Forbidden, Invalid, TimebankError
from timebank.http import local_path, post, set_site_cookie
from timebank.i18n import request_lang
from timebank.people import auth, family, members
from timebank.people.auth import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    SignedIn,
    sign_in,
    sign_out,
    signin_token,
    signin_token_ok,
)
from timebank.people.models import Community
from timebank.people.web import (
    actor_of,
    me,
    posted_form,
    require_csrf,
    require_member,
    set_session_cookie,
    signed_in,
)
from timebank.templating import render


def signin_reason(target: str) -> str:
    """Why the sign-in page appeared, as a fixed code the template words (never text from
    the URL): "placard" when a placard's check-in page sent the visitor here."""
    return "placard" if target.startswith("/v/") else ""


def signin_form(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200
) -> Response:
    """A sign-in form with its pre-session token, in a hidden field and in a cookie."""
    if "next" in context:
        context = {**context, "reason": signin_reason(context["next"])}
    token = signin_token(request.cookies.get(SIGNIN_COOKIE), request.app.state.settings.secret_key)
    response = render(request, template, {**context, "signin_token": token}, status=status)
    set_site_cookie(request, response, SIGNIN_COOKIE, token)
    return response


def check_signin_form(request: Request, form: FormData) -> None:
    """Refuse a sign-in form that was not posted from our own page (login CSRF)."""
    secret_key = request.app.state.settings.secret_key
    posted = str(form.get("signin_token", ""))
    if not signin_token_ok(request.cookies.get(SIGNIN_COOKIE), posted, secret_key):
        raise Forbidden(
            "This sign-in form did not come from this site, or has expired. "
            "Please sign in again on this page.",
            "登录页面已过期或来源不明，请在本页重新登录。",
            code="signin_csrf_failed",
        )


def signed_in_redirect(request: Request, target: str, cookie: str) -> Response:
    """After signing in: the session cookie set, the sign-in form's token dropped."""
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, cookie)
    response.delete_cookie(SIGNIN_COOKIE)
    return response


async def signin_page(request: Request) -> Response:
    """The sign-in form (or straight on, when already signed in)."""
    target = local_path(request.query_params.get("next"), default="/me")
    if me(request) is not None:
        return RedirectResponse(target, status_code=303)
    return signin_form(request, "people/signin.html", {"next": target, "phone": "", "error": ""})


async def signin_submit(request: Request) -> Response:
    """Check phone and password; on success set the cookie and go on."""
    form = await request.form()
    phone, password = str(form.get("phone", "")), str(form.get("password", ""))
    target = local_path(str(form.get("next", "")), default="/me")
    client = request.client.host if request.client else ""
    try:
        check_signin_form(request, form)
        cookie, _ = await sign_in(
            phone=phone,
            password=password,
            ip=client,
            user_agent=request.headers.get("user-agent", ""),
            secret_key=request.app.state.settings.secret_key,
        )
    except TimebankError as exc:
        context = {"next": target, "phone": phone, "error": exc.message(request_lang(request))}
        return signin_form(request, "people/signin.html", context, status=exc.status)
    return signed_in_redirect(request, target, cookie)


async def signout(request: Request) -> Response:
    """End the session (POST with the CSRF token) and go home."""
    signed_in = require_member(request)
    form = await request.form()
    require_csrf(request, signed_in, str(form.get("csrf_token", "")))
    await sign_out(signed_in.session)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@signed_in
async def my_profile(request: Request, who: SignedIn) -> Response:
    """Who I am: name, member number, community, roles; my family, whether each may act
    for me (and my choice), and whether I may act for any of them."""
    community = await Community.get(id=who.member.community_id)
    context = {
        "community": community,
        "relatives": await family.relatives_of(who.member.id),
        "acts_for_someone": any(e.consented for e in await family.elders_of(who.member.id)),
        "done": request.query_params.get("done", ""),
    }
    return render(request, "people/me.html", context)


@signed_in
async def password_page(request: Request, who: SignedIn) -> Response:
    """Change my password (or set one, after signing in with a code)."""
    context: dict[str, Any] = {
        "error": "",
        "saved": False,
        "has_password": bool(who.member.password_hash),
    }
    status = 200
    if request.method == "POST":
        form = await posted_form(request, who)
        try:
            await auth.change_password(
                who,
                current=str(form.get("current", "")),
                new=str(form.get("new", "")),
                ip=request.client.host if request.client else "",
            )
            context["saved"], context["has_password"] = True, True
        except TimebankError as exc:
            context["error"] = exc.message(request_lang(request))
            status = exc.status
    return render(request, "people/password.html", context, status=status)


@signed_in
async def consent_page(request: Request, who: SignedIn) -> Response:
    """My data and location: what consent covers, whether I gave it, give or withdraw it."""
    context: dict[str, Any] = {"member": who.member, "saved": "", "error": False}
    if request.method == "POST":
        form = await posted_form(request, who)
        choice = str(form.get("consent", ""))
        if choice not in ("give", "withdraw"):
            context["error"] = True
            return render(request, "people/consent.html", context, status=422)
        actor = actor_of(request, who)
        context["member"] = await members.set_consent(actor, who.member, choice == "give")
        context["saved"] = choice
    return render(request, "people/consent.html", context)


ELDER_CHOICES = {"on": True, "off": False}


@signed_in
async def elder_mode_submit(request: Request, who: SignedIn) -> Response:
    """Turn elder mode (长辈版) on or off for me, and go back to the page I was on."""
    form = await posted_form(request, who)
    choice = str(form.get("elder_mode", ""))
    if choice not in ELDER_CHOICES:
        raise Invalid(
            "Elder mode: choose on or off.",
            "长辈版：请选择开启或关闭。",
            code="invalid_elder_mode",
        )
    await members.set_elder_mode(who.member, ELDER_CHOICES[choice])
    return RedirectResponse(local_path(str(form.get("next", "")), default="/me"), status_code=303)


async def code_signin_page(request: Request) -> Response:
    """Sign in with a one-time code from the coordinator."""
    context: dict[str, Any] = {"error": "", "phone": ""}
    if request.method == "POST":
        form = await request.form()
        context["phone"] = str(form.get("phone", ""))
        try:
            check_signin_form(request, form)
            cookie, _ = await auth.sign_in_with_code(
                phone=context["phone"],
                code=str(form.get("code", "")),
                ip=request.client.host if request.client else "",
                user_agent=request.headers.get("user-agent", ""),
                secret_key=request.app.state.settings.secret_key,
            )
        except TimebankError as exc:
            context["error"] = exc.message(request_lang(request))
            return signin_form(request, "people/code_signin.html", context, status=exc.status)
        return signed_in_redirect(request, "/me/password", cookie)
    return signin_form(request, "people/code_signin.html", context)


routes = [
    Route("/signin", signin_page, methods=["GET"], name="signin"),
    post("/signin", signin_submit, name="signin_submit"),
    post("/signout", signout, name="signout"),
    Route("/me", my_profile, name="me"),
    Route("/me/password", password_page, methods=["GET", "POST"], name="my_password"),
    Route("/me/consent", consent_page, methods=["GET", "POST"], name="my_consent"),
    post("/me/elder-mode", elder_mode_submit, name="elder_mode"),
    Route("/signin/code", code_signin_page, methods=["GET", "POST"], name="signin_code"),
]
