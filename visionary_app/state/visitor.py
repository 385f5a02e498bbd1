"""Who is using this browser: the owner that jobs and cost limits are counted against."""

from __future__ import annotations

import uuid

import reflex as rx

_YEAR_S = 365 * 24 * 3600


class VisitorState(rx.State):
    """A browser's identity. Without access control it is a random id in a cookie."""

    visitor_id: str = rx.Cookie("", name="visionary_visitor", max_age=_YEAR_S, same_site="lax")

    def _owner(self) -> str:
        """The key jobs and limits are filed under (assigns a visitor id on first use)."""
        if not self.visitor_id:
            self.visitor_id = uuid.uuid4().hex
        return f"visitor:{self.visitor_id}"
