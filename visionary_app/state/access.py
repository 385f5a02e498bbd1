"""Signing in and out, and the gate that keeps every other event out until then."""

from __future__ import annotations

import functools
import logging

import reflex as rx
from reflex.event import Event
from reflex.middleware import Middleware
from reflex.state import BaseState, StateUpdate

from visionary_app.services.access import SESSION_COOKIE
from visionary_app.services.studio import get_studio
from visionary_app.state.api_tokens import ApiTokensState
from visionary_app.state.editor import EditorState
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState
from visionary_app.state.lightbox import LightboxState
from visionary_app.state.options import OptionsState
from visionary_app.state.prompt_history import PromptHistoryState
from visionary_app.state.visitor import VisitorState
from visionary_app.state.webhooks import WebhooksState

logger = logging.getLogger(__name__)

SIGN_IN_ROUTE = "/sign-in"

# What the sign-in routes' codes mean (a code, not words, comes back in the URL).
_SIGN_IN_ERRORS = {
    "wrong": "That name and password do not match.",
    "wrong-password": "That password is not right.",
    "wait": "Too many attempts. Try again in {seconds} seconds.",
    "unavailable": "Signing in is unavailable right now; try again in a minute.",
    "cancelled": "The sign-in was cancelled at the identity provider.",
    "unreachable": "The identity provider could not be reached; try again.",
    "mismatch": "That sign-in did not start in this browser (or took too long); try again.",
    "refused": "The identity provider refused the sign-in; try again.",
    "invalid": "The identity provider's answer could not be verified; nobody was signed in.",
    "nameless": "The identity provider did not say who you are; ask your administrator.",
    "failed": "The sign-in could not be completed; try again.",
}
# What a tab holds for the person signed in; it goes when the session does.
_FEATURES = (
    GalleryState, LightboxState, GenerationState, OptionsState, EditorState, ApiTokensState,
    WebhooksState, PromptHistoryState,
)  # fmt: skip


class AccessState(VisitorState):
    """The sign-in page. Its form posts to /auth/sign-in; the password never enters state."""

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
    def show_error(self):
        """Say why the sign-in routes sent the browser back here (they pass a code)."""
        query = self.router.url.query_parameters
        code = query.get("error", "")
        if code == "wrong" and not get_studio().access.asks_for_name:
            code = "wrong-password"
        seconds = query.get("seconds", "")
        if code == "wait" and not (seconds.isdigit() and len(seconds) < 7):
            code = "unavailable"
        message = _SIGN_IN_ERRORS.get(code, _SIGN_IN_ERRORS["failed"]) if code else ""
        self.error = message.format(seconds=seconds)


async def forget_what_the_tab_held(state: BaseState) -> None:
    """Reset every feature of a tab whose session ended or changed hands.

    The tab's state lives on the server: its gallery (signed image URLs), the open image and
    the job cards belong to the session that filled them, not to whoever uses the tab next.
    """
    for feature in _FEATURES:
        (await state.get_state(feature)).reset()


@functools.cache
def _always_allowed() -> frozenset[str]:
    """Events that must work before signing in: Reflex's own, and the sign-in form's."""
    return frozenset((f"{AccessState.get_full_name()}.show_error",))


class AccessGate(Middleware):
    """Refuses every app event from a browser that is not signed in, and sends it to sign in.

    It runs on the server before any handler, so a crafted websocket message is refused the
    same as a click.
    """

    async def preprocess(self, app, state: BaseState, event: Event) -> StateUpdate | None:
        """Let the event through, or answer with a redirect to the sign-in page."""
        studio = get_studio()
        if not studio.access.enabled:
            return None
        visitor = await state.get_state(VisitorState)
        token = visitor._cookie(SESSION_COOKIE)
        if token:  # read off the event loop; later checks in this event hit the cache
            await studio.sessions.check(token)
        session_id = visitor._session_id()
        if visitor._filled_for != session_id:
            # Signed out (here or anywhere), or someone else signed in: before anything is
            # sent to the page, even Reflex's own hydration, it forgets the old session's.
            await forget_what_the_tab_held(state)
            visitor._filled_for = session_id
        handler_state = event.name.rpartition(".")[0]
        if not handler_state.startswith("reflex___state____state.visionary_app"):
            return None  # Reflex's own events: hydration, storage sync, page loads
        if event.name in _always_allowed():
            return None
        if session_id:
            return None
        path = (event.router_data or {}).get("pathname", "")
        if path == SIGN_IN_ROUTE:
            return StateUpdate()
        return StateUpdate(events=Event.from_event_type(rx.redirect(SIGN_IN_ROUTE)))
