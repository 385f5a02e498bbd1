"""Signing in and out over plain HTTP, so that the session lives in an HttpOnly cookie.

- `POST /auth/sign-in` checks a name and password (the sign-in page's form posts here),
- `GET /auth/oidc/login` and `/auth/oidc/callback` sign in through an identity provider,
- `POST /auth/sign-out` ends this session on the server (`everywhere=1`: every session of
  the user), and clears the cookie.

Each sets or clears `visionary_session` (HttpOnly, SameSite=Lax, Secure on https) and sends
the browser back to a page, which connects again with the new cookie. The page's state reads
the session from its websocket's upgrade request, on the server; no page script ever sees it.
Cross-site posts never get here (`PageGuard` refuses another site's Origin).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from visionary_app.services.access import (
    SESSION_COOKIE,
    SessionsUnavailable,
    SignInUnavailable,
    SignOnFailed,
    TeamsUnavailable,
    client_address,
    is_https,
    origin_allowed,
)

__all__ = ["SIGN_IN_PAGE", "session_routes"]

logger = logging.getLogger(__name__)

SIGN_IN_PAGE = "/sign-in"
_PENDING_COOKIE = "visionary_sign_on"
_CALLBACK = "/auth/oidc/callback"
# A wrong password costs this long, which makes guessing slow without locking anyone out.
FAILED_SIGN_IN_DELAY_S = 1.0
# A name under attack from many addresses: its attempts wait this long, one at a time.
SLOWED_SIGN_IN_DELAY_S = 5.0
_MAX_FIELD = 1000


def session_routes(get_studio: Callable) -> list[Route]:
    """The sign-in, sign-out and single sign-on routes; the studio is looked up per request."""
    slowed: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def settings():
        return get_studio().settings

    def https(request: Request) -> bool:
        forwarded = request.headers.get("x-forwarded-proto", "")
        return is_https(request.url.scheme, forwarded, settings().trusted_proxy_hops)

    def address(request: Request) -> str:
        peer = request.client.host if request.client else None
        forwarded = request.headers.get("x-forwarded-for", "")
        return client_address(peer, forwarded, settings().trusted_proxy_hops)

    def page(request: Request, path: str) -> str:
        # Back to the page the browser came from: this server's, or the dev server's (which
        # serves the pages while this one answers on another port), never another site.
        origin = request.headers.get("origin")
        allowed = get_studio().allowed_origins
        if origin and origin != "null" and origin_allowed(origin, request.url.netloc, allowed):
            return f"{origin}{path}"
        return path

    def signed_in(request: Request, token: str) -> Response:
        response = RedirectResponse(page(request, "/"), status_code=303)
        response.set_cookie(
            SESSION_COOKIE, token, max_age=get_studio().access.session_seconds, path="/",
            httponly=True, samesite="lax", secure=https(request),
        )  # fmt: skip
        return response

    def back_to_sign_in(request: Request, error: str, **extra: str) -> Response:
        # A code, not words: the page says what it means (a link can't put words in its mouth).
        query = urlencode({"error": error, **extra})
        return RedirectResponse(page(request, f"{SIGN_IN_PAGE}?{query}"), status_code=303)

    async def sign_in(request: Request) -> Response:
        studio = get_studio()
        access = studio.access
        if not (access.shared_password or access.users):
            return PlainTextResponse("Signing in with a password is not set up.", status_code=404)
        form = await request.form(max_files=0, max_fields=10)
        name = str(form.get("name", ""))[:_MAX_FIELD] if access.asks_for_name else ""
        password = str(form.get("password", ""))[:_MAX_FIELD]
        client = address(request)
        try:
            verdict = await studio.sign_in_limiter.attempt(name, client)
        except SignInUnavailable:
            return back_to_sign_in(request, "unavailable")
        if verdict.wait is not None:
            logger.warning("sign-in attempts over the limit for %r from %s", name, client)
            return back_to_sign_in(request, "wait", seconds=str(verdict.wait))
        if verdict.slow:
            async with slowed[name.strip().lower()]:
                await asyncio.sleep(SLOWED_SIGN_IN_DELAY_S)
        principal = await asyncio.to_thread(access.check, name, password)
        if principal is None:
            await asyncio.sleep(FAILED_SIGN_IN_DELAY_S)
            logger.warning(
                "failed sign-in attempt%s from %s", f" for {name!r}" if name else "", client
            )
            return back_to_sign_in(request, "wrong")
        try:
            token = await studio.sessions.open(principal, client=client)
        except SessionsUnavailable:
            logger.exception("could not open a session for %s", principal)
            return back_to_sign_in(request, "unavailable")
        logger.info("signed in %s from %s", principal, client)
        return signed_in(request, token)

    async def sign_out(request: Request) -> Response:
        studio = get_studio()
        token = request.cookies.get(SESSION_COOKIE, "")
        form = await request.form(max_files=0, max_fields=10)
        claims = studio.access.claims(token) if token else None
        try:
            if claims is not None and form.get("everywhere") == "1":
                ended = await studio.sessions.end_all(claims.principal)
                logger.info("signed %s out everywhere (%d session(s))", claims.principal, ended)
            elif token:
                await studio.sessions.end(token)
        except SessionsUnavailable:
            logger.exception("could not end a session")
            return PlainTextResponse(
                "Signing out failed: the session could not be ended. Try again.", status_code=503
            )
        response = RedirectResponse(page(request, SIGN_IN_PAGE), status_code=303)
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=https(request)
        )
        return response

    def redirect_uri(request: Request) -> str:
        return str(request.base_url).rstrip("/") + _CALLBACK

    async def sign_on_start(request: Request) -> Response:
        client = get_studio().single_sign_on
        if client is None:
            return PlainTextResponse("Single sign-on is not configured.", status_code=404)
        try:
            url, sealed = await client.begin(redirect_uri(request))
        except Exception:
            logger.exception("the identity provider could not be reached")
            return back_to_sign_in(request, "unreachable")
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            _PENDING_COOKIE, sealed, max_age=600, httponly=True, samesite="lax",
            path="/auth/oidc", secure=https(request),
        )  # fmt: skip
        return response

    async def sign_on_callback(request: Request) -> Response:
        studio = get_studio()
        client = studio.single_sign_on
        if client is None:
            return PlainTextResponse("Single sign-on is not configured.", status_code=404)
        if "error" in request.query_params:
            return back_to_sign_in(request, "cancelled")
        try:
            identity = await client.finish(
                redirect_uri(request),
                request.query_params.get("code", ""),
                request.query_params.get("state", ""),
                request.cookies.get(_PENDING_COOKIE, ""),
            )
        except SignOnFailed as exc:
            logger.warning("single sign-on failed: %s (%r)", exc, exc.__cause__)
            return back_to_sign_in(request, exc.code)
        except Exception:
            logger.exception("single sign-on failed unexpectedly")
            return back_to_sign_in(request, "failed")
        if identity.teams is not None:
            try:
                await studio.teams.record(identity.name, identity.teams)
            except TeamsUnavailable as exc:  # budgets keep the teams of the last sign-in
                logger.error("could not record the teams of %s: %s", identity.name, exc)
        try:
            token = await studio.sessions.open(
                f"user:{identity.name}", single_sign_on_admin=identity.admin,
                client=address(request),
            )  # fmt: skip
        except SessionsUnavailable:
            logger.exception("could not open a session for %s", identity.name)
            return back_to_sign_in(request, "failed")
        response = signed_in(request, token)
        response.delete_cookie(_PENDING_COOKIE, path="/auth/oidc")
        logger.info("signed in %s by single sign-on", identity.name)
        return response

    return [
        Route("/auth/sign-in", sign_in, methods=["POST"]),
        Route("/auth/sign-out", sign_out, methods=["POST"]),
        Route("/auth/oidc/login", sign_on_start, methods=["GET"]),
        Route(_CALLBACK, sign_on_callback, methods=["GET"]),
    ]
