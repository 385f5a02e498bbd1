"""Sessions over HTTP: the routes that set the HttpOnly cookie, end sessions, and keep the
sign-in open to its owner; and the guard in front of every request (origin, headers)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from tests.api.conftest import BASE, bearer, token_for
from tests.support.studios import fresh_studio
from visionary_app.api import sessions as session_routes_module
from visionary_app.api.page_guard import PageGuard, inline_script_hashes
from visionary_app.api.sessions import session_routes
from visionary_app.api.v1 import build_api, mount
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings

PAGE = "<html><script>window.x = 1</script><script src='/a.js'></script></html>"


def _app() -> PageGuard:
    async def page(_request):
        return HTMLResponse(PAGE)

    async def data(_request):
        return JSONResponse({"ok": True})

    inner = Starlette(
        routes=[
            *session_routes(get_studio),
            Route("/", page),
            Route("/data", data, methods=["GET", "POST"]),
            mount("/api/v1", build_api(get_studio)),
        ]
    )
    return PageGuard(
        inner,
        allowed_origins=lambda: get_studio().allowed_origins,
        image_origin=lambda: "https://account.blob.core.windows.net",
        trusted_proxy_hops=lambda: get_settings().trusted_proxy_hops,
        page_hashes=lambda: inline_script_hashes([]),
    )


@pytest.fixture
async def site(tmp_path, monkeypatch) -> AsyncIterator[tuple]:
    monkeypatch.setattr(session_routes_module, "FAILED_SIGN_IN_DELAY_S", 0)
    monkeypatch.setattr(session_routes_module, "SLOWED_SIGN_IN_DELAY_S", 0)
    studio = fresh_studio(
        monkeypatch, tmp_path, access_users="alice:alice-password,bob:bob-password",
        admins="carol", trusted_proxy_hops="1", sign_in_attempts_per_minute="3",
    )  # fmt: skip
    transport = httpx.ASGITransport(app=_app(), client=("10.9.9.9", 5000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield studio, client
    await studio.aclose()
    get_settings.cache_clear()


def _form(name: str, password: str) -> dict:
    return {"name": name, "password": password}


def _from(address: str, **headers) -> dict:
    # What the client made up comes first; the proxy (one trusted hop) appends what it saw.
    return {"x-forwarded-for": f"203.0.113.250, {address}", **headers}


async def _sign_in(client, name, password, address="198.51.100.1", **headers):
    return await client.post(
        "/auth/sign-in", data=_form(name, password), headers=_from(address, **headers)
    )


async def test_signing_in_sets_an_httponly_lax_cookie_and_opens_a_session(site):
    studio, client = site
    answer = await _sign_in(client, "alice", "alice-password")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("visionary_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    token = answer.cookies["visionary_session"]
    claims = await studio.sessions.check(token)
    assert claims is not None and claims.principal == "user:alice"
    [row] = await studio.sessions.open_sessions("user:alice")
    assert row.client == "198.51.100.1"  # from the trusted proxy's X-Forwarded-For

    https = await _sign_in(client, "alice", "alice-password", **{"x-forwarded-proto": "https"})
    assert "Secure" in https.headers["set-cookie"]


async def test_a_wrong_password_sends_the_browser_back_with_a_code_not_a_session(site):
    _studio, client = site
    answer = await _sign_in(client, "alice", "guess")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?error=wrong"
    assert "set-cookie" not in answer.headers


async def test_a_stranger_guessing_from_one_address_does_not_lock_the_owner_out(site):
    _studio, client = site
    for _ in range(3):
        await _sign_in(client, "alice", "guess", address="203.0.113.66")
    refused = await _sign_in(client, "alice", "alice-password", address="203.0.113.66")
    assert refused.headers["location"].startswith("/sign-in?error=wait&seconds=")
    # Alice, from her own address, signs in; the stranger's next guess waits.
    mine = await _sign_in(client, "alice", "alice-password", address="198.51.100.20")
    assert mine.headers["location"] == "/" and "visionary_session" in mine.cookies


async def test_an_untrusted_forwarded_for_cannot_buy_fresh_attempts(site, monkeypatch):
    _studio, client = site
    monkeypatch.setenv("VISIONARY_TRUSTED_PROXY_HOPS", "0")
    get_settings.cache_clear()
    get_studio().settings = get_settings()
    for i in range(3):  # a new made-up address each time: all count as 10.9.9.9
        await client.post("/auth/sign-in", data=_form("alice", "x"),
                          headers={"x-forwarded-for": f"203.0.113.{i}"})  # fmt: skip
    refused = await client.post(
        "/auth/sign-in", data=_form("alice", "x"), headers={"x-forwarded-for": "203.0.113.99"}
    )
    assert "error=wait" in refused.headers["location"]


async def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(site):
    studio, client = site
    token = (await _sign_in(client, "alice", "alice-password")).cookies["visionary_session"]
    other = (await _sign_in(client, "alice", "alice-password")).cookies["visionary_session"]
    out = await client.post("/auth/sign-out", cookies={"visionary_session": token})
    assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    assert 'visionary_session=""' in out.headers["set-cookie"]
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert await studio.sessions.check(token) is None  # a copy taken before opens nothing
    assert await studio.sessions.check(other) is not None  # the other browser stays in

    everywhere = await client.post(
        "/auth/sign-out", data={"everywhere": "1"}, cookies={"visionary_session": other}
    )
    assert everywhere.status_code == 303
    studio.sessions._alive.clear()
    assert await studio.sessions.check(other) is None


async def test_a_user_ends_their_own_sessions_and_an_admin_anyones(site):
    studio, client = site
    token = (await _sign_in(client, "bob", "bob-password")).cookies["visionary_session"]
    alice = bearer(await token_for(studio, "alice"))
    carol = bearer(await token_for(studio, "carol"))
    refused = await client.delete("/api/v1/users/bob/sessions", headers=alice)
    assert refused.status_code == 403
    assert await studio.sessions.check(token) is not None
    ended = await client.delete("/api/v1/users/bob/sessions", headers=carol)
    assert ended.status_code == 200 and ended.json() == {"ended": 1}
    assert await studio.sessions.check(token) is None
    own = await client.delete("/api/v1/users/alice/sessions", headers=alice)
    assert own.status_code == 200


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # a script with a token, curl
        ("http://testserver", True),  # the app's own pages
        ("http://localhost:3000", True),  # the dev server's pages
        ("https://evil.example", False),
        ("http://testserver.evil.example", False),
        ("null", False),  # a sandboxed frame, a file:// page
    ],
)
async def test_a_request_that_acts_is_refused_from_another_sites_page(site, origin, allowed):
    _studio, client = site
    headers = {"origin": origin} if origin else {}
    posted = await client.post("/data", headers=headers)
    assert (posted.status_code == 200) is allowed
    signing_in = await client.post("/auth/sign-in", data=_form("alice", "alice-password"),
                                   headers=headers)  # fmt: skip
    assert (signing_in.status_code == 303) is allowed
    # Reading is not acting: a GET from anywhere is answered (CORS decides who reads it).
    assert (await client.get("/data", headers=headers)).status_code == 200


async def test_every_answer_carries_the_security_headers_and_pages_a_policy(site):
    _studio, client = site
    page = await client.get("/")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-frame-options"] == "DENY"
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "img-src 'self' data: blob: https://account.blob.core.windows.net" in policy
    assert "strict-transport-security" not in page.headers  # plain http
    assert "content-security-policy" not in (await client.get("/data")).headers
    secure = await client.get("/", headers={"x-forwarded-proto": "https"})
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    assert "connect-src 'self' wss://testserver" in secure.headers["content-security-policy"]


async def test_a_page_gives_a_new_browser_an_httponly_visitor_id_once(site):
    _studio, client = site
    first = await client.get("/")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("visionary_visitor=") and "HttpOnly" in cookie
    again = await client.get("/", cookies={"visionary_visitor": first.cookies["visionary_visitor"]})
    assert "set-cookie" not in again.headers


def test_the_policy_lists_each_inline_script_by_hash(tmp_path):
    page = tmp_path / "index.html"
    page.write_text(PAGE)
    [digest] = inline_script_hashes([page])
    import base64
    import hashlib

    expected = base64.b64encode(hashlib.sha256(b"window.x = 1").digest()).decode()
    assert digest == f"'sha256-{expected}'"
