"""``create_app()``: every feature's routes, the middleware and the ORM lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from timebank import api, db, home, jobs
from timebank.catalog import pages as catalog_pages
from timebank.http import EXCEPTION_HANDLERS, InputGuard, SecurityHeaders
from timebank.ledger import pages as ledger_pages
from timebank.orders import pages as orders_pages
from timebank.pairing import pages as pairing_pages
from timebank.people import family_pages, members_pages
from timebank.people import pages as people_pages
from timebank.people.service import prepare_dummy_hash
from timebank.people.web import SignedInMember
from timebank.redeem import pages as redeem_pages
from timebank.reports import pages as reports_pages
from timebank.settings import Settings
from timebank.settlement import pages as settlement_pages
from timebank.templating import make_templates, web_dir
from timebank.visits import pages as visits_pages


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the ASGI app; ``settings`` defaults to the ``TIMEBANK_*`` environment."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.open_db(settings.db_url)
        await prepare_dummy_hash()
        job = asyncio.create_task(jobs.run_forever(settings.timezone)) if settings.jobs else None
        try:
            yield
        finally:
            if job is not None:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            await db.close_db()

    app = Starlette(
        routes=[
            # The API first: its calls (check-in and check-out above all) skip the page routes.
            Mount("/api/v1", routes=api.routes, name="api"),
            *home.routes,
            *people_pages.routes,
            *members_pages.routes,
            *family_pages.routes,
            *pairing_pages.routes,
            *catalog_pages.routes,
            *orders_pages.routes,
            *visits_pages.routes,
            *redeem_pages.routes,
            *settlement_pages.routes,
            *reports_pages.page_routes,
            *ledger_pages.routes,
            Mount("/static", StaticFiles(directory=web_dir() / "static"), name="static"),
        ],
        # Compressed responses: the check-in page must load on a weak rural signal.
        middleware=[
            Middleware(GZipMiddleware, minimum_size=500),
            Middleware(SecurityHeaders),
            Middleware(SignedInMember),
            # Innermost, so its refusals are pages with the member's own menu.
            Middleware(InputGuard),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.templates = make_templates()
    app.state.openapi = api.openapi_document(api.ROUTES)
    return app
