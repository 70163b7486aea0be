"""The web shell: landing page, languages, health, API errors, OpenAPI, headers."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timebank import errors
from timebank.http import read_json

HTML = {"accept": "text/html,application/xhtml+xml"}


async def test_landing_page_is_chinese_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN"' in response.text
    assert "时间银行 · 邻里互助" in response.text
    assert "困困结对" in response.text
    assert "Three ways neighbours help" not in response.text


async def test_language_switch_sets_cookie_and_returns(client: httpx.AsyncClient) -> None:
    response = await client.get("/lang/en", params={"next": "/?x=1"})
    assert response.status_code == 303
    assert response.headers["location"] == "/?x=1"
    cookie = response.headers["set-cookie"]
    assert "tb_lang=en" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = await client.get("/", headers=HTML)
    assert '<html lang="en"' in page.text
    assert "Three ways neighbours help" in page.text
    assert "三种互助方式" not in page.text
    back = await client.get("/lang/zh-CN")
    assert back.headers["location"] == "/"
    assert "三种互助方式" in (await client.get("/", headers=HTML)).text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", ""])
async def test_language_switch_never_redirects_off_site(
    client: httpx.AsyncClient, target: str
) -> None:
    response = await client.get("/lang/en", params={"next": target})
    assert response.headers["location"] == "/"


async def test_unknown_language_is_a_clear_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/lang/fr", headers={"accept": "application/json"})
    assert response.status_code == 404
    body = response.json()["error"]
    assert body["code"] == "unknown_language"
    assert "zh-CN, en" in body["messages"]["en"] and "不支持" in body["messages"]["zh-CN"]


async def test_a_language_link_never_shows_its_text(client: httpx.AsyncClient) -> None:
    """/lang/<text> must not turn a link's text into the site's red alert (a scam)."""
    scam = "您的账户已冻结，请致电 400-123"
    response = await client.get(f"/lang/{scam}")
    assert response.status_code == 404
    assert scam not in response.text and "冻结" not in response.text  # (the href is encoded)
    assert "不支持该语言" in response.text


async def test_healthz_reports_the_database(client: httpx.AsyncClient, db_url: str) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    expected = "sqlite" if db_url.startswith("sqlite") else "postgres"
    assert response.json() == {"status": "ok", "database": expected, "version": "0.1.0"}


async def test_openapi_document_is_valid_openapi_3(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert "Error" in document["components"]["schemas"]
    # Every API route is documented: one without its docstring would be missing here.
    from timebank.api import ROUTES

    for route in ROUTES:
        path = "/api/v1" + route.path.replace(":int", "")  # type: ignore[attr-defined]
        for method in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
            assert method.lower() in document["paths"][path], (method, path)


async def test_unknown_api_path_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["message"] == "找不到该页面或记录。"


async def test_unknown_page_is_an_html_404_in_the_chosen_language(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/no-such-page", headers=HTML, params={"lang": "en"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is no such page or record." in response.text


async def test_wrong_method_is_json_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.BadRequest, 400),
        (errors.Unauthorized, 401),
        (errors.Forbidden, 403),
        (errors.NotFound, 404),
        (errors.Conflict, 409),
        (errors.Invalid, 422),
    ],
)
async def test_domain_errors_share_one_json_shape(
    app: Starlette, client: httpx.AsyncClient, error: type[errors.TimebankError], status: int
) -> None:
    async def endpoint(request: Request) -> Response:
        raise error("Explained in English.", "中文说明。", code="the_code", details={"field": "x"})

    app.router.routes.insert(0, Route("/api/v1/test-error", endpoint))
    response = await client.get("/api/v1/test-error", params={"lang": "en"})
    assert response.status_code == status
    assert response.json() == {
        "error": {
            "code": "the_code",
            "message": "Explained in English.",
            "messages": {"zh-CN": "中文说明。", "en": "Explained in English."},
            "details": {"field": "x"},
        }
    }


async def test_bad_json_body_is_a_400_not_a_500(app: Starlette, client: httpx.AsyncClient) -> None:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(await read_json(request))

    app.router.routes.insert(0, Route("/api/v1/echo", endpoint, methods=["POST"]))
    broken = await client.post("/api/v1/echo", content=b"{not json")
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "invalid_json"
    array = await client.post("/api/v1/echo", json=[1, 2])
    assert array.status_code == 400
    ok = await client.post("/api/v1/echo", json={"a": 1})
    assert ok.json() == {"a": 1}


async def test_unexpected_exception_leaks_no_traceback(
    app: Starlette, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def endpoint(request: Request) -> Response:
        raise RuntimeError("secret internal detail")

    app.router.routes.insert(0, Route("/api/v1/boom", endpoint))
    app.router.routes.insert(0, Route("/boom", endpoint))
    response = await client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    page = await client.get("/boom", headers=HTML)
    assert page.status_code == 500
    assert "系统出错" in page.text and "secret internal detail" not in page.text
    assert "secret internal detail" in caplog.text  # the operator still sees it


async def test_security_headers_and_vendored_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers=HTML)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for asset in (
        "/static/vendor/pico/pico.min.css",
        "/static/vendor/htmx/htmx.min.js",
        "/static/css/app.css",
    ):
        assert asset in page.text
        assert (await client.get(asset)).status_code == 200
    # No page may need the network: no absolute links to other hosts for assets.
    assert "cdn" not in page.text.lower()
    assert 'src="http' not in page.text and 'href="http' not in page.text
