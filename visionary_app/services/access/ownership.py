"""Who is acting, and what they may see and change: one place for the rules of ownership.

An image belongs to its owner (`user:<name>` when signed in, `visitor:<id>` otherwise). A
private image is its owner's alone: nobody else sees it, admins included. A shared image is
seen by everyone who may use the app. Deleting an image and changing its visibility are for
its owner and for admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from visionary_app.models import Image, Visibility

__all__ = ["ANONYMOUS_PREFIX", "Scope", "Viewer"]

# Owners that are a browser cookie, not a signed-in user: a new cookie is a new owner, so
# limits that must hold count them together.
ANONYMOUS_PREFIX = "visitor:"


class Scope(StrEnum):
    """Which images a gallery shows: everything the viewer may see, or only their own."""

    EVERYONE = "everyone"
    MINE = "mine"


@dataclass(frozen=True)
class Viewer:
    """The person behind a request, as the server decided it (never as the client said)."""

    owner: str
    admin: bool = False

    def may_see(self, image: Image) -> bool:
        """Shared images, and one's own."""
        return image.visibility == Visibility.SHARED or image.owner == self.owner

    def may_change(self, image: Image) -> bool:
        """Delete it or change who sees it: its owner, or an admin (if they can see it)."""
        return self.may_see(image) and (image.owner == self.owner or self.admin)
