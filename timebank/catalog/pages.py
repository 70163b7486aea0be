"""The coordinator's page for a community's service catalog."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from timebank.catalog import service
from timebank.errors import TimebankError
from timebank.i18n import request_lang
from timebank.people import policy
from timebank.people.auth import SignedIn
from timebank.people.service import get_community
from timebank.people.web import actor_of, posted_form, signed_in
from timebank.templating import render

FIELDS = ("name_zh", "name_en", "typical_minutes", "max_minutes", "min_minutes", "multiplier")


@signed_in
async def catalog_page(request: Request, who: SignedIn) -> Response:
    """Every service type of the community, each with its own small form."""
    community_id = int(request.path_params["community_id"])
    policy.require(policy.can_manage_community(who, community_id))
    community = await get_community(community_id)
    context: dict[str, Any] = {"community": community, "error": "", "saved": ""}
    status = 200
    if request.method == "POST":
        form = await posted_form(request, who)
        code = str(form.get("code", ""))
        data: dict[str, Any] = {k: str(form[k]) for k in FIELDS if k in form}
        data["needs_confirmation"] = "needs_confirmation" in form
        data["group_activity"] = "group_activity" in form
        data["active"] = "active" in form
        try:
            await service.update_service(actor_of(request, who), community, code, data)
            context["saved"] = code
        except TimebankError as exc:
            context["error"] = exc.message(request_lang(request))
            status = exc.status
    context["services"] = [service.service_json(s) for s in await service.catalog(community)]
    return render(request, "catalog/services.html", context, status=status)


routes = [
    Route(
        "/communities/{community_id:int}/services",
        catalog_page,
        methods=["GET", "POST"],
        name="catalog_services",
    ),
]
