"""`/auth/oidc/login` and `/auth/oidc/callback`: single sign-on, then a session like any other.

The callback checks the provider's answer (services/oidc.py), and sets the same session
cookie the sign-in form would: from then on every event is judged by it, on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from visionary_app.services.access import SignOnFailed, TeamsUnavailable

__all__ = ["SESSION_COOKIE", "single_sign_on_routes"]

logger = logging.getLogger(__name__)

SESSION_COOKIE = "visionary_session"  # VisitorState.session_token's cookie
_PENDING_COOKIE = "visionary_sign_on"
_CALLBACK = "/auth/oidc/callback"
_YEAR_S = 365 * 24 * 3600


def single_sign_on_routes(get_studio: Callable) -> list[Route]:
    """The two routes; the studio (and its OIDC client) is looked up per request."""

    def redirect_uri(request: Request) -> str:
        return str(request.base_url).rstrip("/") + _CALLBACK

    async def login(request: Request) -> Response:
        client = get_studio().single_sign_on
        if client is None:
            return PlainTextResponse("Single sign-on is not configured.", status_code=404)
        try:
            url, sealed = await client.begin(redirect_uri(request))
        except Exception:
            logger.exception("the identity provider could not be reached")
            return _back_to_sign_in("unreachable")
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            _PENDING_COOKIE, sealed, max_age=600, httponly=True, samesite="lax", path="/auth/oidc"
        )
        return response

    async def callback(request: Request) -> Response:
        studio = get_studio()
        client = studio.single_sign_on
        if client is None:
            return PlainTextResponse("Single sign-on is not configured.", status_code=404)
        if "error" in request.query_params:
            return _back_to_sign_in("cancelled")
        try:
            identity = await client.finish(
                redirect_uri(request),
                request.query_params.get("code", ""),
                request.query_params.get("state", ""),
                request.cookies.get(_PENDING_COOKIE, ""),
            )
        except SignOnFailed as exc:
            logger.warning("single sign-on failed: %s (%r)", exc, exc.__cause__)
            return _back_to_sign_in(exc.code)
        except Exception:
            logger.exception("single sign-on failed unexpectedly")
            return _back_to_sign_in("failed")
        if identity.teams is not None:
            try:
                await studio.teams.record(identity.name, identity.teams)
            except TeamsUnavailable as exc:  # budgets keep the teams of the last sign-in
                logger.error("could not record the teams of %s: %s", identity.name, exc)
        token = studio.access.issue(f"user:{identity.name}", single_sign_on_admin=identity.admin)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(_PENDING_COOKIE, path="/auth/oidc")
        # The cookie the page's state reads (Reflex reads it in the browser: not HttpOnly).
        response.set_cookie(SESSION_COOKIE, token, max_age=_YEAR_S, samesite="strict", path="/")
        logger.info("signed in %s by single sign-on", identity.name)
        return response

    return [
        Route("/auth/oidc/login", login, methods=["GET"]),
        Route(_CALLBACK, callback, methods=["GET"]),
    ]


def _back_to_sign_in(code: str) -> Response:
    # A code, not words: the page says what it means (a link can't put words in its mouth).
    return RedirectResponse(f"/sign-in?error={quote(code)}", status_code=303)
