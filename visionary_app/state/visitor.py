"""Who is using this browser: the owner that jobs and cost limits are counted against."""

from __future__ import annotations

import logging
import re
import uuid

import reflex as rx

from visionary_app.models import Image
from visionary_app.services.access import (
    ANONYMOUS_PREFIX,
    SESSION_COOKIE,
    SHARED,
    VISITOR_COOKIE,
    Claims,
    Viewer,
    cookie_value,
)
from visionary_app.services.gallery import CatalogError
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings

logger = logging.getLogger(__name__)

_VISITOR_ID = re.compile(r"[0-9a-f]{32}")


async def viewer_of(state: rx.State) -> Viewer:
    """The viewer behind any state's tab (see VisitorState._viewer)."""
    visitor = await state.get_state(VisitorState)
    return visitor._viewer()


async def visible_image(state: rx.State, image_id: str) -> Image | None:
    """The image with this id if the tab's viewer may see it.

    None if the id is malformed, the image gone or private to someone else, or the index
    unreadable (logged).
    """
    try:
        return await get_studio().catalog.get_for(await viewer_of(state), uuid.UUID(image_id))
    except (CatalogError, ValueError) as exc:
        logger.error("reading image %r failed: %s", image_id, exc)
        return None


class NotSignedIn(Exception):
    """Access control is on and this browser has no valid session."""


class VisitorState(rx.State):
    """A browser's identity, read on the server from its websocket's upgrade request.

    The session token and the visitor id are HttpOnly cookies: the browser sends them when
    the page connects, the server reads them from `router.headers`, and neither is a state
    var, so neither is ever sent back to a page script.
    """

    # The session whose person the tab's features were filled for (see AccessGate).
    _filled_for: str = ""

    def _cookie(self, name: str) -> str:
        return cookie_value(self.router.headers.cookie, name) or ""

    def _claims(self) -> Claims | None:
        """What the browser's session says, if it is valid and open (checked on the server)."""
        token = self._cookie(SESSION_COOKIE)
        sessions = get_studio().sessions
        return sessions.check_now(token) if token and sessions is not None else None

    def _session_id(self) -> str:
        """The open session this tab acts in ("" if none)."""
        claims = self._claims()
        return claims.session_id if claims is not None else ""

    def _principal(self) -> str | None:
        """Who the session says this is (None without a valid, open one)."""
        claims = self._claims()
        return claims.principal if claims is not None else None

    def _named_owner(self) -> str | None:
        """The signed-in user's key, or None where the browser itself is the owner.

        Raises NotSignedIn where access control is on and this browser has no session.
        """
        if not get_studio().access.enabled:
            return None
        principal = self._principal()
        if principal is None:
            raise NotSignedIn
        return principal if principal != SHARED else None

    def _visitor_id(self) -> str:
        """The browser's visitor id (its cookie), or the tab's own id where it has none.

        The page that loaded sets the cookie; a client that never loaded a page (a script on
        the websocket, the dev server's pages) is one visitor per tab.
        """
        cookie = self._cookie(VISITOR_COOKIE)
        if _VISITOR_ID.fullmatch(cookie):
            return cookie
        return f"tab-{self.router.session.client_token}"[:64]

    def _owner(self) -> str:
        """The key jobs and limits are filed under.

        A named user is the same user in every browser; otherwise each browser is one.
        """
        if named := self._named_owner():
            return named
        return f"{ANONYMOUS_PREFIX}{self._visitor_id()}"

    def _existing_owner(self) -> str | None:
        """`_owner()` for a look from outside the tab: None where it has no identity yet.

        A tab's state can be read before its browser has connected (a tab given a new token
        on reconnecting); it is then nobody's.
        """
        try:
            if named := self._named_owner():
                return named
        except NotSignedIn:
            return None
        if not self.router.session.client_token:
            return None
        return f"{ANONYMOUS_PREFIX}{self._visitor_id()}"

    def _client(self) -> str:
        """The browser's address (from a trusted proxy's X-Forwarded-For, see rxconfig)."""
        return self.router.session.client_ip

    def _viewer(self) -> Viewer:
        """Who is acting, as the server decides it: owner key, and whether an admin."""
        claims = self._claims()
        principal, admin_by_claim = (
            (claims.principal, claims.admin_by_claim) if claims else (None, False)
        )
        name = principal.removeprefix("user:") if principal and principal != SHARED else ""
        listed = bool(name) and name in get_settings().admin_names
        return Viewer(owner=self._owner(), admin=listed or admin_by_claim)

    @rx.var
    def signed_in_as(self) -> str:
        """The signed-in user's name, for the header (empty when open or shared)."""
        principal = self._principal()
        return principal.removeprefix("user:") if principal and principal != SHARED else ""

    @rx.var(cache=True)
    def access_required(self) -> bool:
        """Whether the app asks people to sign in."""
        return get_studio().access.enabled
