"""Coordinators' pages: member list, register, member detail and edit, family links,
sign-in codes, CSV import, community settings, audit log; and my password, code sign-in.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank import confirm, inputs
from timebank.errors import NotFound, TimebankError
from timebank.http import post
from timebank.i18n import request_lang
from timebank.labels import SETTINGS, _
from timebank.people import audit, auth, communities, directory, member_import, members, policy
from timebank.people.auth import SignedIn
from timebank.people.family import relatives_of
from timebank.people.models import Community, FamilyLink, Member
from timebank.people.service import audit_events, get_community, member_names
from timebank.people.web import actor_of, posted_form, signed_in
from timebank.templating import render

LISTS = ("roles", "hardship", "needs", "skills")
PAGE_SIZE = 50


def form_values(form: FormData) -> dict[str, Any]:
    """A submitted member form as ``parse_member`` reads it."""
    data: dict[str, Any] = {}
    for key in form:
        if key == "csrf_token":
            continue
        data[key] = [str(v) for v in form.getlist(key)] if key in LISTS else str(form.get(key))
    for key in ("hardship", "needs", "skills"):
        data.setdefault(key, [])
    data["consent"] = "consent" in form
    return data


def _errors(exc: TimebankError, lang: str) -> dict[str, Any]:
    fields = {f["field"]: f["en" if lang == "en" else "zh"] for f in exc.details.get("fields", [])}
    return {"error": exc.message(lang), "field_errors": fields}


@signed_in
async def member_list(request: Request, who: SignedIn) -> Response:
    """Search the members of my communities."""
    scope = policy.coordinated_scope(who, None)
    params = request.query_params
    raw_page = params.get("page", "1")
    # Bounded, so the offset stays a number the database takes.
    page = min(max(1, int(raw_page)), 100_000) if inputs.is_whole(raw_page) else 1
    found = await directory.search(
        scope,
        q=params.get("q", ""),
        role=params.get("role", ""),
        hardship=params.get("hardship", ""),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    rows = await directory.summaries(found.members)
    names = {c.id: c.name for c in await Community.all()}
    return render(
        request,
        "people/list.html",
        {
            "rows": rows,
            "total": found.total,
            "page": page,
            "pages": max(1, -(-found.total // PAGE_SIZE)),
            "q": params.get("q", ""),
            "role": params.get("role", ""),
            "hardship": params.get("hardship", ""),
            "community_names": names,
            "communities": await policy.communities_of(who),
        },
    )


def _blank() -> dict[str, Any]:
    return {
        "name": "",
        "phone": "",
        "roles": ["resident"],
        "birth_date": "",
        "address": "",
        "languages": "",
        "consent": False,
        "care_level": "self_care",
        "hardship": [],
        "needs": [],
        "visit_every_days": "",
        "emergency_name": "",
        "emergency_phone": "",
        "notes": "",
        "helper_kind": "volunteer",
        "hourly_rate": "",
        "skills": [],
        "capacity": "3",
        "availability": "",
        "lat": "",
        "lon": "",
    }


def _as_form(data: dict[str, Any]) -> dict[str, Any]:
    """A member's JSON as the values of the edit form."""
    form = _blank()
    form.update({k: (v if v is not None else "") for k, v in data.items() if k in form})
    form["consent"] = bool(data.get("consent"))
    if data.get("resident"):
        res = data["resident"]
        form.update({k: (v if v is not None else "") for k, v in res.items() if k in form})
    if data.get("helper"):
        helper = data["helper"]
        form.update(
            helper_kind=helper["kind"],
            hourly_rate=helper["hourly_rate"] or "",
            skills=helper["skills"],
            capacity=str(helper["capacity"]),
            availability=helper["availability"],
        )
    return form


def _form_page(who: SignedIn, form: dict[str, Any]) -> dict[str, Any]:
    """A member form's page: the values shown, no errors yet, and whether the form offers
    the roles only an admin may grant."""
    return {"form": form, "error": "", "field_errors": {}, "is_admin": policy.is_admin(who)}


@signed_in
async def register_page(request: Request, who: SignedIn) -> Response:
    """The register-a-member form, and its submission."""
    policy.require_coordinator(who)
    choices = await policy.communities_of(who)
    context = _form_page(who, _blank())
    context.update(choices=choices, community_id=choices[0].id if choices else 0)
    status = 200
    if request.method == "POST":
        form = await posted_form(request, who)
        data = form_values(form)
        context["form"] = {**_blank(), **data}
        community_id = inputs.id_or_none(form.get("community")) or 0  # 0: none of theirs
        context["community_id"] = community_id
        try:
            policy.require(policy.can_manage_community(who, community_id))
            community = await get_community(community_id)
            member = await members.register(
                actor_of(request, who), community, data, admin=policy.is_admin(who)
            )
            return RedirectResponse(f"/people/{member.id}?registered=1", status_code=303)
        except TimebankError as exc:
            context.update(_errors(exc, request_lang(request)))
            status = exc.status
    return render(request, "people/register.html", context, status=status)


async def _detail(
    request: Request, who: SignedIn, member: Member, *, error: str = "", status: int = 200
) -> Response:
    manage = await policy.can_manage_member(who, member)
    events = (
        await audit_events(
            policy.coordinated_scope(who, None), member=member.id, limit=30, before=None
        )
        if manage
        else []
    )
    names = await member_names(e.actor_id for e in events)
    links = await relatives_of(member.id)
    return render(
        request,
        "people/detail.html",
        {
            "consent_rights": {
                link.id for link in links if await policy.can_record_family_consent(who, link)
            },
            "consent_done": request.query_params.get("done", ""),
            "m": await directory.member_json(member),
            "community": await Community.get(id=member.community_id),
            "manage": manage,
            "events": [audit.event_json(e, names) for e in events],
            "registered": request.query_params.get("registered") == "1",
            "error": error,
        },
        status=status,
    )


@signed_in
async def member_page(request: Request, who: SignedIn) -> Response:
    """One member: profile, roles, family, audit trail, and the coordinator's actions."""
    member = await members.get_member(int(request.path_params["member_id"]))
    policy.require(await policy.can_view_member(who, member))
    return await _detail(request, who, member)


async def _managed(request: Request, who: SignedIn) -> Member:
    """The member in the path, whom ``who`` must manage."""
    member = await members.get_member(int(request.path_params["member_id"]))
    policy.require(await policy.can_manage_member(who, member))
    return member


@signed_in
async def edit_page(request: Request, who: SignedIn) -> Response:
    """Edit a member's details, roles and profiles."""
    member = await _managed(request, who)
    context = _form_page(who, _as_form(await directory.member_json(member)))
    context["m"] = await directory.member_json(member, full=False)
    status = 200
    if request.method == "POST":
        form = await posted_form(request, who)
        data = form_values(form)
        context["form"] = {**context["form"], **data}
        policy.require(await policy.can_take_over(who, member, dict(data)))
        try:
            await members.update(actor_of(request, who), member, data, admin=policy.is_admin(who))
            return RedirectResponse(f"/people/{member.id}", status_code=303)
        except TimebankError as exc:
            context.update(_errors(exc, request_lang(request)))
            status = exc.status
    return render(request, "people/edit.html", context, status=status)


@signed_in
async def code_submit(request: Request, who: SignedIn) -> Response:
    """Issue a one-time sign-in code and show it once."""
    member = await _managed(request, who)
    await posted_form(request, who)
    policy.require(await policy.can_take_over(who, member, {}, code=True))
    code = await auth.issue_code(actor_of(request, who), member)
    return render(
        request,
        "people/code.html",
        {
            "m": await directory.member_json(member, full=False),
            "code": code,
            "hours": auth.CODE_HOURS,
        },
    )


@signed_in
async def active_submit(request: Request, who: SignedIn) -> Response:
    """Deactivate or reactivate a member."""
    member = await _managed(request, who)
    form = await posted_form(request, who)
    if form.get("active") != "1" and not confirm.confirmed(form):
        return confirm.ask(
            request,
            form,
            question=_(
                "Deactivate %(name)s? They are signed out at once and can no longer sign in; "
                "everything they did stays on record. You can reactivate them later."
            ),
            button=_("Yes, deactivate"),
            back=f"/people/{member.id}",
            name=member.name,
        )
    await members.set_active(actor_of(request, who), member, form.get("active") == "1")
    return RedirectResponse(f"/people/{member.id}", status_code=303)


@signed_in
async def family_submit(request: Request, who: SignedIn) -> Response:
    """Link a relative, found by phone number."""
    member = await _managed(request, who)
    form = await posted_form(request, who)
    lang = request_lang(request)
    try:
        from timebank.people.service import normalize_phone

        phone = normalize_phone(str(form.get("phone", "")))
        relative = await Member.get_or_none(phone=phone)
        if relative is None or not await policy.can_manage_member(who, relative):
            raise NotFound(
                f"No member with the phone number {phone} in your communities.",
                f"您的社区里没有电话号码为 {phone} 的成员。",
                code="relative_not_found",
            )
        await members.link_family(
            actor_of(request, who), member, relative, str(form.get("relation", ""))
        )
    except TimebankError as exc:
        status = 422 if exc.status == 400 else exc.status
        return await _detail(request, who, member, error=exc.message(lang), status=status)
    return RedirectResponse(f"/people/{member.id}", status_code=303)


@signed_in
async def unlink_submit(request: Request, who: SignedIn) -> Response:
    """Remove a family link."""
    member = await _managed(request, who)
    form = await posted_form(request, who)
    link = await FamilyLink.get_or_none(id=int(request.path_params["link_id"]), member=member)
    if link is not None:
        policy.require(await policy.can_unlink_family(who, link))
        if not confirm.confirmed(form):
            relative = await Member.get(id=link.relative_id)
            return confirm.ask(
                request,
                form,
                question=_(
                    "Remove %(relative)s as family of %(name)s? %(relative)s will no longer "
                    "see %(name)s's visits and hours, nor rate them."
                ),
                button=_("Yes, remove the link"),
                back=f"/people/{member.id}",
                relative=relative.name,
                name=member.name,
            )
        await members.unlink_family(actor_of(request, who), link)
    return RedirectResponse(f"/people/{member.id}", status_code=303)


@signed_in
async def import_page(request: Request, who: SignedIn) -> Response:
    """Upload a CSV list of members: every row checked, all imported or none."""
    policy.require_coordinator(who)
    choices = await policy.communities_of(who)
    context: dict[str, Any] = {
        "choices": choices,
        "error": "",
        "rows": [],
        "created": [],
        # The columns' Chinese names, or in English the field names the import also reads.
        "headers": list(member_import.HEADERS)[:8]
        if request_lang(request) != "en"
        else list(dict.fromkeys(member_import.HEADERS.values()))[:8],
    }
    status = 200
    if request.method == "POST":
        form = await posted_form(request, who)
        upload = form.get("file")
        raw = await upload.read() if isinstance(upload, UploadFile) else b""
        await form.close()  # the upload's temporary file
        community_id = inputs.id_or_none(form.get("community")) or 0  # 0: none of theirs
        try:
            policy.require(policy.can_manage_community(who, community_id))
            community = await get_community(community_id)
            result = await member_import.import_csv(
                actor_of(request, who), community, raw, admin=policy.is_admin(who)
            )
            context["created"] = await directory.summaries(result.created)
        except TimebankError as exc:
            lang = request_lang(request)
            context["error"] = exc.message(lang)
            context["rows"] = [
                {
                    "line": r["line"],
                    "field": member_import.column_name(str(r["field"]), lang),
                    "message": r["en" if lang == "en" else "zh"],
                }
                for r in exc.details.get("rows", [])
            ]
            status = exc.status
    return render(request, "people/import.html", context, status=status)


@signed_in
async def settings_page(request: Request, who: SignedIn) -> Response:
    """A community's settings."""
    community_id = int(request.path_params["community_id"])
    policy.require(policy.can_manage_community(who, community_id))
    community = await get_community(community_id)
    context: dict[str, Any] = {
        "c": communities.community_json(community),
        "error": "",
        "field_errors": {},
        "saved": False,
        "values": {},
        "safeguards": () if policy.can_change_safeguards(who) else communities.SAFEGUARDS,
        "labels": SETTINGS,
    }
    status = 200
    if request.method == "POST":
        form = await posted_form(request, who)
        data: dict[str, Any] = {k: str(form.get(k, "")) for k in communities.SETTINGS}
        data["four_eyes"] = "four_eyes" in form
        if "four_eyes" in context["safeguards"]:  # a disabled box is not sent: keep it
            data["four_eyes"] = community.four_eyes
        data["group_hours_donate_only"] = "group_hours_donate_only" in form
        try:
            updated = await communities.update_settings(
                actor_of(request, who),
                community,
                data,
                safeguards=policy.can_change_safeguards(who),
            )
            context["c"] = communities.community_json(updated)
            context["saved"] = True
        except TimebankError as exc:
            context.update(_errors(exc, request_lang(request)))
            context["values"] = data
            status = exc.status
    return render(request, "people/settings.html", context, status=status)


@signed_in
async def audit_page(request: Request, who: SignedIn) -> Response:
    """The audit log of my communities, newest first."""
    raw = request.query_params.get("before", "")
    before = int(raw) if inputs.is_whole(raw) and 0 < int(raw) < 2**62 else None
    scope = policy.coordinated_scope(who, None)
    events = await audit_events(scope, member=None, limit=100, before=before)
    names = await member_names(e.actor_id for e in events)
    rows = [audit.event_json(e, names) for e in events]
    return render(
        request,
        "people/audit.html",
        {"events": rows, "next_before": rows[-1]["id"] if len(rows) == 100 else None},
    )


routes = [
    Route("/people", member_list, name="people_list"),
    Route("/people/new", register_page, methods=["GET", "POST"], name="people_register"),
    Route("/people/import", import_page, methods=["GET", "POST"], name="people_import"),
    Route("/people/{member_id:int}", member_page, name="people_detail"),
    Route("/people/{member_id:int}/edit", edit_page, methods=["GET", "POST"], name="people_edit"),
    post("/people/{member_id:int}/code", code_submit, name="people_code"),
    post("/people/{member_id:int}/active", active_submit, name="people_active"),
    post("/people/{member_id:int}/family", family_submit, name="people_family"),
    post(
        "/people/{member_id:int}/family/{link_id:int}/delete", unlink_submit, name="people_unlink"
    ),
    Route(
        "/communities/{community_id:int}/settings",
        settings_page,
        methods=["GET", "POST"],
        name="community_settings",
    ),
    Route("/audit", audit_page, name="audit_log"),
]
