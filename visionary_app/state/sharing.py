"""Share links in the page: make one for the open image or the board shown, list and revoke."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import reflex as rx

from visionary_app.services.gallery import CatalogError, Expiry, ShareRefused
from visionary_app.services.studio import get_studio
from visionary_app.state.gallery import GalleryState
from visionary_app.state.lightbox import LightboxState
from visionary_app.state.visitor import viewer_of

logger = logging.getLogger(__name__)

_EXPIRY_LABELS = {
    Expiry.HOUR: "An hour",
    Expiry.DAY: "A day",
    Expiry.WEEK: "A week",
    Expiry.NEVER: "Never",
}
_UNAVAILABLE = "Share links are unavailable right now; try again."


@dataclass
class LinkRow:
    """One of the viewer's links, as their list shows it (never its token)."""

    id: str
    shows: str
    kind: str  # "Image" or "Board"
    ends: str  # "until 2026-12-05 10:00 UTC", "never expires", "revoked"
    live: bool


class SharingState(rx.State):
    """The share dialog (for an image or a board) and the list of one's links."""

    dialog_open: bool = False
    list_open: bool = False
    for_board: bool = False  # the dialog shares the board shown, not the open image
    expiry: str = Expiry.DAY.value
    show_prompt: bool = True
    url: str = ""  # the link just made: shown until the dialog closes
    link_id: str = ""
    links: list[LinkRow] = []
    _target: str = ""  # the image or board id the dialog was opened for

    @rx.var
    def expiry_choices(self) -> list[list[str]]:
        """[value, label] of the lifetimes this studio offers."""
        links = get_studio().share_links
        offered = links.expiries if links is not None else []
        return [[e.value, _EXPIRY_LABELS[e]] for e in offered]

    def _open(self, *, for_board: bool, target: str) -> None:
        self.for_board, self._target = for_board, target
        self.url = self.link_id = ""
        self.expiry, self.show_prompt = Expiry.DAY.value, True
        self.dialog_open = True

    @rx.event
    async def open_for_image(self):
        """Open the dialog for the image in the lightbox."""
        lightbox = await self.get_state(LightboxState)
        self._open(for_board=False, target=lightbox.image_id)

    @rx.event
    async def open_for_board(self):
        """Open the dialog for the board the gallery shows."""
        gallery = await self.get_state(GalleryState)
        if gallery.board:
            self._open(for_board=True, target=gallery.board)

    @rx.event
    def set_dialog_open(self, value: bool):
        """Follow the dialog; closing it forgets the link shown."""
        self.dialog_open = bool(value)
        if not value:
            self.url = self.link_id = ""

    @rx.event
    def set_expiry(self, value: str):
        """Choose how long the next link lasts (checked again when it is made)."""
        self.expiry = str(value)

    @rx.event
    def set_show_prompt(self, value: bool):
        """Whether the public page shows the prompt."""
        self.show_prompt = bool(value)

    @rx.event
    async def create(self):
        """Make the link; its URL shows once, to copy."""
        studio = get_studio()
        viewer = await viewer_of(self)
        try:
            target = uuid.UUID(self._target)
            link, token = await studio.share_links.create(
                viewer,
                image_id=None if self.for_board else target,
                board_id=target if self.for_board else None,
                expiry=Expiry(self.expiry),
                show_prompt=self.show_prompt,
            )
        except ShareRefused as exc:
            return rx.toast.error(str(exc), id="share-refused")
        except ValueError:
            return rx.toast.error("Choose what to share, and for how long.")
        except CatalogError as exc:
            logger.error("making a share link failed: %s", exc)
            return rx.toast.error(_UNAVAILABLE)
        origin = studio.settings.public_url or self.router.url.origin
        self.url, self.link_id = f"{origin}/s/{token}", link.id.hex
        return None

    async def _reload(self) -> None:
        viewer = await viewer_of(self)
        rows = []
        now = datetime.now(UTC)
        for link, shows in await get_studio().share_links.of(viewer.owner):
            live = link.revoked_at is None and (link.expires_at is None or link.expires_at > now)
            if link.revoked_at is not None:
                ends = "revoked"
            elif link.expires_at is None:
                ends = "never expires"
            else:
                ends = f"{'until' if live else 'expired'} {link.expires_at:%Y-%m-%d %H:%M} UTC"
            kind = "Board" if link.board_id else "Image"
            rows.append(LinkRow(link.id.hex, shows[:80], kind, ends, live))
        self.links = rows

    @rx.event
    async def revoke(self, link_id: str = ""):
        """End a link now (the one just made, or one from the list)."""
        viewer = await viewer_of(self)
        try:
            revoked = await get_studio().share_links.revoke(
                viewer.owner, uuid.UUID(hex=link_id or self.link_id)
            )
            if self.list_open:
                await self._reload()
        except (CatalogError, ValueError) as exc:
            logger.error("revoking a share link failed: %s", exc)
            return rx.toast.error(_UNAVAILABLE)
        if not revoked:
            return rx.toast.error("No such link.")
        if not link_id or link_id == self.link_id:
            self.url = self.link_id = ""
        return rx.toast.success("The link was revoked: it shows nothing now.", id="share-revoked")

    @rx.event
    async def set_list_open(self, value: bool):
        """Open (and read) or close the list of one's links."""
        self.list_open = bool(value)
        if value:
            try:
                await self._reload()
            except CatalogError as exc:
                logger.error("reading share links failed: %s", exc)
                return rx.toast.error(_UNAVAILABLE)
        return None
