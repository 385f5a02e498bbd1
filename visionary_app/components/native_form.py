"""A form the browser itself submits: no event handler, a real POST and a page load.

Reflex's forms always cancel the browser's submit and send their data as an event instead;
signing in and out must be real requests, so that the answer can set an HttpOnly cookie.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML

from visionary_app.components.media import backend_resolved


class _PostedForm(BaseHTML):
    """`<form>` as HTML has it."""

    tag = "form"

    action: rx.Var[str]
    method: rx.Var[str]


def posted_form(*children: rx.Component, to: str, **props) -> rx.Component:
    """A form that POSTs its fields to the app's route `to` (on the backend, in development)."""
    return _PostedForm.create(
        *children, action=backend_resolved(rx.Var.create(to)), method="post", **props
    )
