"""Share links: one image or one board, shown to anyone who holds the link, until it ends.

A link's token is 256 random bits; only its SHA-256 is kept, so the table alone opens
nothing. A link ends when it expires or its maker revokes it, and the images it showed are
served no more. It shows what its maker may see: their image, or the images of their board
that they may see (at most `MAX_BOARD_IMAGES`, newest first). Only an image's owner (or an
admin) shares it, and only whoever may change a board shares that.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import Board, Image, ShareLink
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.gallery.boards import Boards
from visionary_app.services.gallery.catalog import Catalog, CatalogError
from visionary_app.services.kit.database import in_session

__all__ = [
    "MAX_BOARD_IMAGES",
    "MAX_LINKS_PER_OWNER",
    "Expiry",
    "LinkGone",
    "ShareLinks",
    "ShareRefused",
    "Shared",
]

MAX_BOARD_IMAGES = 100
MAX_LINKS_PER_OWNER = 500


class Expiry(StrEnum):
    """How long a new link lasts."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    NEVER = "never"  # only where an admin allows it (VISIONARY_SHARE_LINKS_MAY_NEVER_EXPIRE)


_LIFETIMES = {
    Expiry.HOUR: timedelta(hours=1),
    Expiry.DAY: timedelta(days=1),
    Expiry.WEEK: timedelta(weeks=1),
}


class ShareRefused(Exception):
    """No link was made or changed; the message is for the user."""


class LinkGone(Exception):
    """The link is unknown, expired or revoked; the message says which (for anyone)."""


@dataclass(frozen=True)
class Shared:
    """What a live link shows: one image, or a board's name and images."""

    link: ShareLink
    title: str
    images: list[Image]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ShareLinks:
    """The links in the index beside the images they show."""

    def __init__(self, catalog: Catalog, boards: Boards, *, never_allowed: bool = False) -> None:
        """Links to `catalog`'s images and `boards`; `never_allowed`: links may never expire."""
        self._catalog = catalog
        self._boards = boards
        self._engine = catalog.engine
        self.never_allowed = never_allowed

    async def _run(self, work, action: str):
        def failure(error: str) -> CatalogError:
            return CatalogError(f"the share links could not {action}: {error}")

        return await in_session(self._engine, work, failure)

    @property
    def expiries(self) -> list[Expiry]:
        """The lifetimes a new link may have here."""
        return [e for e in Expiry if e != Expiry.NEVER or self.never_allowed]

    async def create(
        self,
        viewer: Viewer,
        *,
        image_id: uuid.UUID | None = None,
        board_id: uuid.UUID | None = None,
        expiry: Expiry = Expiry.DAY,
        show_prompt: bool = True,
    ) -> tuple[ShareLink, str]:
        """A new link and its token (shown once); ShareRefused with the reason."""
        if (image_id is None) == (board_id is None):
            raise ShareRefused("Share one image or one board.")
        if expiry not in self.expiries:
            raise ShareRefused("Links that never expire are not allowed here.")
        if image_id is not None:
            image = await self._catalog.get_for(viewer, image_id)
            if image is None:
                raise ShareRefused("There is no such image.")
            if not viewer.may_change(image):
                raise ShareRefused("Only its owner (or an admin) can share an image.")
        else:
            board = await self._boards.get_for(viewer, board_id)
            if board is None:
                raise ShareRefused("There is no such board.")
            if not self._boards.may_change(viewer, board):
                raise ShareRefused("Only whoever may change a board can share it.")
        now = datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        link = ShareLink(
            digest=_digest(token),
            owner=viewer.owner,
            image_id=image_id,
            board_id=board_id,
            show_prompt=show_prompt,
            created_at=now,
            expires_at=now + _LIFETIMES[expiry] if expiry in _LIFETIMES else None,
        )

        def work(session: Session) -> None:
            count = session.exec(
                select(sa.func.count())
                .select_from(ShareLink)
                .where(col(ShareLink.owner) == viewer.owner, col(ShareLink.revoked_at).is_(None))
            ).one()
            if count >= MAX_LINKS_PER_OWNER:
                raise ShareRefused(f"You have {MAX_LINKS_PER_OWNER} links; revoke some first.")
            session.add(link)
            session.commit()

        await self._run(work, "be saved")
        return link, token

    async def of(self, owner: str) -> list[tuple[ShareLink, str]]:
        """An owner's links, newest first, each with what it shows (a prompt or board name)."""

        def work(session: Session) -> list[tuple[ShareLink, str]]:
            rows = session.exec(
                select(ShareLink, Image.prompt, Board.name)
                .outerjoin(Image, col(Image.id) == col(ShareLink.image_id))
                .outerjoin(Board, col(Board.id) == col(ShareLink.board_id))
                .where(col(ShareLink.owner) == owner)
                .order_by(col(ShareLink.created_at).desc())
                .limit(200)
            ).all()
            return [(link, board or prompt or "") for link, prompt, board in rows]

        return await self._run(work, "be read")

    async def revoke(self, owner: str, link_id: uuid.UUID) -> bool:
        """End one of the owner's links now; False if it is not theirs (or not there)."""

        def work(session: Session) -> bool:
            link = session.get(ShareLink, link_id)
            if link is None or link.owner != owner:
                return False
            if link.revoked_at is None:
                link.revoked_at = datetime.now(UTC)
                session.add(link)
                session.commit()
            return True

        return await self._run(work, "be changed")

    async def open(self, token: str) -> Shared:
        """What a live link shows, as its maker may see it now; LinkGone otherwise."""
        if not token or len(token) > 100:
            raise LinkGone("There is no such link.")
        digest = _digest(token)
        link = await self._run(
            lambda session: session.exec(
                select(ShareLink).where(col(ShareLink.digest) == digest)
            ).first(),
            "be read",
        )
        if link is None:
            raise LinkGone("There is no such link.")
        if link.revoked_at is not None:
            raise LinkGone("This link was revoked by the person who shared it.")
        if link.expires_at is not None and link.expires_at <= datetime.now(UTC):
            raise LinkGone("This link has expired.")
        maker = Viewer(owner=link.owner)
        if link.image_id is not None:
            image = await self._catalog.get_for(maker, link.image_id)
            if image is None:
                raise LinkGone("The image of this link is no longer there.")
            return Shared(link, image.prompt if link.show_prompt else "", [image])
        board = await self._boards.get_for(maker, link.board_id)
        if board is None:
            raise LinkGone("The board of this link is no longer there.")
        images = await self._catalog.newest(MAX_BOARD_IMAGES, viewer=maker, board=board.id)
        return Shared(link, board.name, images)
