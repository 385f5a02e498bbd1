"""Around every request the app answers: who may call it, what its pages may do, and a visitor id.

- **Origin.** A websocket (the page's event channel) or a request that changes something
  (POST, PUT, PATCH, DELETE) from a page of another site is refused with 403: the session
  cookie goes with it on its own, so the page's origin is what tells a forged request from
  ours. Same-origin pages, the public URL and the dev server are allowed; a request without
  an Origin (a script with a token) is judged by its token.
- **Headers.** Every answer says `X-Content-Type-Options: nosniff`, `Referrer-Policy:
  same-origin`, `X-Frame-Options: DENY` and, on https, HSTS. Pages also get a
  Content-Security-Policy (see `content_security_policy`).
- **Visitor id.** A page answered to a browser without one sets `visionary_visitor`, a random
  id in an HttpOnly cookie: visitors without an account are told apart by it, and no page
  script can read or copy it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from visionary_app.services.access import VISITOR_COOKIE, cookie_value, is_https, origin_allowed

__all__ = ["PageGuard", "content_security_policy", "inline_script_hashes"]

logger = logging.getLogger(__name__)

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_YEAR_S = 365 * 24 * 3600
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def inline_script_hashes(pages: Iterable[Path]) -> tuple[str, ...]:
    """CSP sources (`'sha256-…'`) for every inline script of the prerendered pages."""
    found: set[str] = set()
    for page in pages:
        for script in _INLINE_SCRIPT.findall(page.read_bytes()):
            if script.strip():
                digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
                found.add(f"'sha256-{digest}'")
    return tuple(sorted(found))


def content_security_policy(
    script_hashes: Iterable[str], *, image_origin: str, host: str, https: bool
) -> str:
    """The policy of the app's pages: nothing from elsewhere but the images' storage.

    - script-src: the bundles ('self'), each inline script the build prerendered (by hash:
      the colour-mode switch, the router's hydration data), and 'unsafe-eval', which Reflex
      needs to run `rx.call_script` (three one-liners: focus, an IntersectionObserver, the
      mask canvas). No 'unsafe-inline': an injected <script> does not run.
    - style-src 'unsafe-inline': Emotion and Radix write <style> elements and style
      attributes at run time.
    - img-src: 'self' (the local store's /media, the icons), data: and blob: (thumbnails and
      the mask painter's canvas), and the storage account the signed image URLs point to.
    - connect-src: the page's own websocket and HTTP routes, and the storage account (the
      editor fetches an image to paint its mask on).
    - frame-ancestors 'none', form-action 'self', base-uri 'self', object-src 'none'.
    """
    socket = f"{'wss' if https else 'ws'}://{host}"
    external = f" {image_origin}" if image_origin else ""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'unsafe-eval' {' '.join(script_hashes)}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob:{external}",
            "font-src 'self' data:",
            f"connect-src 'self' {socket}{external}",
            "manifest-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@functools.cache
def _compiled_page_hashes() -> tuple[str, ...]:
    """The inline-script hashes of the compiled frontend this process serves (read once)."""
    from reflex.utils import prerequisites
    from reflex_base import constants

    static = prerequisites.get_web_dir() / constants.Dirs.STATIC
    pages = sorted(static.rglob("*.html")) if static.is_dir() else []
    hashes = inline_script_hashes(pages)
    logger.info(
        "content security policy: %d inline script(s) in %d page(s)", len(hashes), len(pages)
    )
    return hashes


def _headers(scope: Scope) -> dict[str, str]:
    return {
        key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]
    }


class PageGuard:
    """ASGI middleware around the whole app (Reflex's API transformer puts it outermost)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origins: Callable[[], frozenset[str]],
        image_origin: Callable[[], str],
        trusted_proxy_hops: Callable[[], int],
        page_hashes: Callable[[], tuple[str, ...]] = _compiled_page_hashes,
    ) -> None:
        self.app = app
        self.allowed_origins = allowed_origins
        self.image_origin = image_origin
        self.trusted_proxy_hops = trusted_proxy_hops
        self.page_hashes = page_hashes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a cross-site call, or answer with the headers (and a visitor id) added."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        crossing = scope["type"] == "websocket" or scope.get("method") in _UNSAFE_METHODS
        host = headers.get("host", "")
        if crossing and not origin_allowed(headers.get("origin"), host, self.allowed_origins()):
            logger.warning(
                "refused a %s to %s from the page of another site (%s)",
                scope["type"] if scope["type"] == "websocket" else scope.get("method"),
                scope.get("path"),
                headers.get("origin"),
            )
            await _refuse(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        https = is_https(
            scope.get("scheme"), headers.get("x-forwarded-proto", ""), self.trusted_proxy_hops()
        )
        needs_visitor = cookie_value(headers.get("cookie", ""), VISITOR_COOKIE) is None

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                sent = dict(message.get("headers", []))
                if sent.get(b"content-type", b"").startswith(b"text/html"):
                    policy = content_security_policy(
                        self.page_hashes(), image_origin=self.image_origin(), host=host,
                        https=https,
                    )  # fmt: skip
                    extra.append((b"content-security-policy", policy.encode()))
                    if needs_visitor:
                        extra.append((b"set-cookie", _visitor_cookie(https)))
                present = {key.lower() for key in sent}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(key, value) for key, value in extra if key not in present],
                ]
            await send(message)

        await self.app(scope, receive, send_guarded)


def _visitor_cookie(https: bool) -> bytes:
    cookie = (
        f"{VISITOR_COOKIE}={secrets.token_hex(16)}; Path=/; Max-Age={_YEAR_S}; HttpOnly; "
        "SameSite=Lax"
    )
    return (cookie + ("; Secure" if https else "")).encode()


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = b"Refused: this request came from a page of another site."
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
