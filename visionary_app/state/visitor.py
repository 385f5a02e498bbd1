"""Who is using this browser: the owner that jobs and cost limits are counted against."""

from __future__ import annotations

import logging
import uuid

import reflex as rx

from visionary_app.models import Image
from visionary_app.services.access import ANONYMOUS_PREFIX, SHARED, Viewer
from visionary_app.services.gallery import CatalogError
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings

logger = logging.getLogger(__name__)

_YEAR_S = 365 * 24 * 3600


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
    """A browser's identity: a random visitor id, and a signed session when sign-in is on."""

    visitor_id: str = rx.Cookie("", name="visionary_visitor", max_age=_YEAR_S, same_site="lax")
    session_token: str = rx.Cookie(
        "", name="visionary_session", max_age=_YEAR_S, same_site="strict"
    )

    def _principal(self) -> str | None:
        """Who the session token says this is (None without a valid one)."""
        return get_studio().access.verify(self.session_token) if self.session_token else None

    def _signed_in(self) -> bool:
        """Whether this browser may use the studio."""
        return not get_studio().access.enabled or self._principal() is not None

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

    def _owner(self) -> str:
        """The key jobs and limits are filed under (assigns a visitor id on first use).

        A named user is the same user in every browser; otherwise each browser is one.
        """
        if named := self._named_owner():
            return named
        if not self.visitor_id:
            self.visitor_id = uuid.uuid4().hex
        return f"{ANONYMOUS_PREFIX}{self.visitor_id}"

    def _existing_owner(self) -> str | None:
        """`_owner()` for a look from outside the tab: None where it would assign a visitor id.

        A tab's state can be read before its browser has sent the cookie (a tab given a new
        token on reconnecting); assigning an id then would file the tab under a stranger.
        """
        try:
            if named := self._named_owner():
                return named
        except NotSignedIn:
            return None
        return f"{ANONYMOUS_PREFIX}{self.visitor_id}" if self.visitor_id else None

    def _viewer(self) -> Viewer:
        """Who is acting, as the server decides it: owner key, and whether an admin."""
        session = get_studio().access.session(self.session_token) if self.session_token else None
        principal, admin_by_claim = session if session is not None else (None, False)
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
