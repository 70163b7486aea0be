"""Family pages: the members a relative may act for (each with their hours, visits, orders
and forms acting for them), and recording or withdrawing a member's consent to that."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from timebank.errors import Invalid
from timebank.http import post
from timebank.people import family, members, policy
from timebank.people.auth import SignedIn
from timebank.people.web import actor_of, posted_form, signed_in
from timebank.templating import render

# What the page the consent form came back to says (a fixed code, never text from the URL).
CONSENT_DONE = {"give": "consent_given", "withdraw": "consent_withdrawn"}


@signed_in
async def family_page(request: Request, who: SignedIn) -> Response:
    """The members I am linked to as family: for those who agreed, links to their hours,
    visits and orders and to order or book for them; for the others, how to ask."""
    return render(request, "people/family.html", {"elders": await family.elders_of(who.member.id)})


@signed_in
async def consent_submit(request: Request, who: SignedIn) -> Response:
    """The member (on /me) or their coordinator (on their page) records or withdraws the
    member's consent that a linked relative acts for them."""
    form = await posted_form(request, who)
    member = await members.get_member(int(request.path_params["member_id"]))
    link = await family.get_link(member.id, int(request.path_params["link_id"]))
    policy.require(await policy.can_record_family_consent(who, link))
    choice = str(form.get("consent", ""))
    if choice not in CONSENT_DONE:
        raise Invalid(
            "Choose to agree or to withdraw.", "请选择“同意”或“撤回”。", code="bad_consent"
        )
    await family.set_consent(actor_of(request, who), link, choice == "give")
    back = "/me" if member.id == who.member.id else f"/people/{member.id}"
    return RedirectResponse(f"{back}?done={CONSENT_DONE[choice]}#family", status_code=303)


routes = [
    Route("/family", family_page, name="family"),
    post(
        "/people/{member_id:int}/family/{link_id:int}/consent",
        consent_submit,
        name="family_consent",
    ),
]
