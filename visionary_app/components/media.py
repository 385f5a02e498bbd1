"""Turning the URLs the backend hands out into URLs the browser can load."""

from __future__ import annotations

import reflex as rx
from reflex.event import no_args_event_spec
from reflex.vars import Var, VarData
from reflex_base.constants import Dirs
from reflex_base.utils.imports import ImportVar

__all__ = ["backend_resolved", "renewable_image"]


def backend_resolved(url: Var[str]) -> Var[str]:
    """Resolve a root-relative URL (local store) against the backend; absolute URLs pass as is.

    In development the backend runs on its own port, so `/media/...` must not be resolved
    against the page's origin.
    """
    return Var(
        _js_expr=f"(new URL({url!s}, getBackendURL(env.PING))).href",
        _var_data=VarData.merge(
            url._get_all_var_data(),
            VarData(
                imports={
                    f"$/{Dirs.STATE_PATH}": [ImportVar(tag="getBackendURL")],
                    "$/env.json": [ImportVar(tag="env", is_default=True)],
                }
            ),
        ),
    ).to(str)


class _ImageWithErrorEvent(rx.el.Img):
    """An <img> whose load failure reaches the server (Reflex's Img has no on_error)."""

    on_error: rx.EventHandler[no_args_event_spec]


renewable_image = _ImageWithErrorEvent.create
