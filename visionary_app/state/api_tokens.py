"""Personal API tokens in the page: make one (shown once), see them, revoke them."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import reflex as rx

from visionary_app.services.access import SCOPES, TokenRefused, TokensUnavailable
from visionary_app.services.studio import get_studio
from visionary_app.state.visitor import VisitorState

logger = logging.getLogger(__name__)


@dataclass
class TokenRow:
    """One token as the list shows it: never the token itself."""

    id: str
    name: str
    scopes: str
    created_at: str
    last_used: str


class ApiTokensState(VisitorState):
    """The signed-in user's tokens; a new one's text is kept only until the dialog closes."""

    is_open: bool = False
    tokens: list[TokenRow] = []
    new_token: str = ""  # shown to its owner once, then forgotten

    @rx.var
    def can_have_tokens(self) -> bool:
        """Whether this browser's user is a named, signed-in user (tokens belong to users)."""
        return get_studio().api_tokens.users_may_have_tokens and bool(self.signed_in_as)

    async def _reload(self, owner: str) -> None:
        rows = await get_studio().api_tokens.list(owner)
        self.tokens = [
            TokenRow(
                id=row.id.hex,
                name=row.name,
                scopes=row.scopes.replace(" ", ", "),
                created_at=f"{row.created_at:%Y-%m-%d %H:%M} UTC",
                last_used=f"{row.last_used_at:%Y-%m-%d %H:%M} UTC" if row.last_used_at else "never",
            )
            for row in rows
        ]

    @rx.event
    async def set_open(self, value: bool):
        """Open (and load) or close the dialog; closing forgets a new token's text."""
        self.is_open = value
        self.new_token = ""
        if not value:
            return None
        owner = self._named_owner()
        if owner is None:
            self.is_open = False
            return rx.toast.error("Sign in with a named account to use API tokens.")
        try:
            await self._reload(owner)
        except TokensUnavailable as exc:
            logger.error("listing tokens failed: %s", exc)
            return rx.toast.error("Your tokens could not be read; try again.")
        return None

    @rx.event
    async def create(self, form_data: dict[str, Any]):
        """Make a token with the chosen name and scopes; its text is shown once."""
        owner = self._named_owner()
        if owner is None:
            return rx.toast.error("Sign in with a named account to make API tokens.")
        scopes = [scope for scope in SCOPES if form_data.get(f"scope_{scope}") in ("on", True)]
        try:
            token, _row = await get_studio().api_tokens.create(
                owner, str(form_data.get("name", "")), scopes
            )
            await self._reload(owner)
        except TokenRefused as exc:
            return rx.toast.error(str(exc))
        except TokensUnavailable as exc:
            logger.error("making a token failed: %s", exc)
            return rx.toast.error("The token could not be made; try again.")
        self.new_token = token
        return None

    @rx.event
    async def revoke(self, token_id: str):
        """Revoke one of this user's tokens at once (someone else's id does nothing)."""
        owner = self._named_owner()
        if owner is None:
            return rx.toast.error("Sign in with a named account to manage API tokens.")
        try:
            revoked = await get_studio().api_tokens.revoke(owner, uuid.UUID(hex=token_id))
            await self._reload(owner)
        except (TokensUnavailable, ValueError) as exc:
            logger.error("revoking a token failed: %s", exc)
            return rx.toast.error("The token could not be revoked; try again.")
        if not revoked:
            return rx.toast.info("That token was already revoked.")
        return rx.toast.success("Token revoked: it no longer works.")
