"""Signing in and out, and the gate that keeps every other event out until then."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import reflex as rx
from reflex.event import Event
from reflex.middleware import Middleware
from reflex.state import BaseState, StateUpdate

from visionary_app.services.access import SignInUnavailable
from visionary_app.services.studio import get_studio
from visionary_app.state.api_tokens import ApiTokensState
from visionary_app.state.editor import EditorState
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState
from visionary_app.state.lightbox import LightboxState
from visionary_app.state.options import OptionsState
from visionary_app.state.visitor import VisitorState
from visionary_app.state.webhooks import WebhooksState

logger = logging.getLogger(__name__)

SIGN_IN_ROUTE = "/sign-in"
# A wrong password costs this long, which makes guessing slow without locking anyone out.
_FAILED_SIGN_IN_DELAY_S = 1.0


_SIGN_ON_ERRORS = {
    "cancelled": "The sign-in was cancelled at the identity provider.",
    "unreachable": "The identity provider could not be reached; try again.",
    "mismatch": "That sign-in did not start in this browser (or took too long); try again.",
    "refused": "The identity provider refused the sign-in; try again.",
    "invalid": "The identity provider's answer could not be verified; nobody was signed in.",
    "nameless": "The identity provider did not say who you are; ask your administrator.",
    "failed": "The sign-in could not be completed; try again.",
}


class AccessState(VisitorState):
    """The sign-in form. The password is read from the submitted form, never kept in state."""

    error: str = ""

    @rx.var(cache=True)
    def asks_for_name(self) -> bool:
        """Whether the form asks for a user name (a list of users is configured)."""
        return get_studio().access.asks_for_name

    @rx.var(cache=True)
    def asks_for_password(self) -> bool:
        """Whether the form has a password box (a shared password or users are configured)."""
        access = get_studio().access
        return bool(access.shared_password or access.users)

    @rx.var(cache=True)
    def single_sign_on_label(self) -> str:
        """What the single sign-on button names ("" when single sign-on is off)."""
        studio = get_studio()
        return studio.settings.oidc_label if studio.single_sign_on is not None else ""

    @rx.event
    def show_sign_on_error(self):
        """Say why a single sign-on came back here (the callback passes a code, not words)."""
        code = self.router.url.query_parameters.get("error", "")
        self.error = _SIGN_ON_ERRORS.get(code, _SIGN_ON_ERRORS["failed"]) if code else ""

    @rx.event
    async def sign_in(self, form_data: dict[str, Any]):
        """Check the credentials; on success keep a signed session and open the studio."""
        studio = get_studio()
        access = studio.access
        name = str(form_data.get("name", ""))[:200]
        try:
            wait = await studio.sign_in_limiter.attempt(name if access.asks_for_name else "")
        except SignInUnavailable:
            self.error = "Signing in is unavailable right now; try again in a minute."
            return None
        if wait is not None:
            self.error = f"Too many attempts. Try again in {wait} seconds."
            logger.warning("sign-in attempts over the limit%s", f" for {name!r}" if name else "")
            return None
        principal = await asyncio.to_thread(access.check, name, str(form_data.get("password", "")))
        if principal is None:
            await asyncio.sleep(_FAILED_SIGN_IN_DELAY_S)
            self.error = (
                "That name and password do not match."
                if access.asks_for_name
                else "That password is not right."
            )
            logger.warning("failed sign-in attempt%s", f" for {name!r}" if name else "")
            return None
        self.error = ""
        self.session_token = access.issue(principal)
        return rx.redirect("/")

    @rx.event
    async def sign_out(self):
        """Forget the session, and everything this tab held for it, then show the sign-in page.

        The tab's state lives on the server: its gallery (signed image URLs), the open image
        and the job cards go with the session, not only the cookie.
        """
        self.session_token = ""
        features = (
            GalleryState,
            LightboxState,
            GenerationState,
            OptionsState,
            EditorState,
            ApiTokensState,
            WebhooksState,
        )
        for feature in features:
            (await self.get_state(feature)).reset()
        return rx.redirect(SIGN_IN_ROUTE)


@functools.cache
def _always_allowed() -> frozenset[str]:
    """Events that must work before signing in: Reflex's own, and the sign-in form's."""
    name = AccessState.get_full_name()
    return frozenset((f"{name}.sign_in", f"{name}.sign_out", f"{name}.show_sign_on_error"))


class AccessGate(Middleware):
    """Refuses every app event from a browser that is not signed in, and sends it to sign in.

    It runs on the server before any handler, so a crafted websocket message is refused the
    same as a click.
    """

    async def preprocess(self, app, state: BaseState, event: Event) -> StateUpdate | None:
        """Let the event through, or answer with a redirect to the sign-in page."""
        if not get_studio().access.enabled:
            return None
        handler_state = event.name.rpartition(".")[0]
        if not handler_state.startswith("reflex___state____state.visionary_app"):
            return None  # Reflex's own events: hydration, storage sync, page loads
        if event.name in _always_allowed():
            return None
        visitor = await state.get_state(VisitorState)
        if visitor._signed_in():
            return None
        path = (event.router_data or {}).get("pathname", "")
        if path == SIGN_IN_ROUTE:
            return StateUpdate()
        return StateUpdate(events=Event.from_event_type(rx.redirect(SIGN_IN_ROUTE)))
