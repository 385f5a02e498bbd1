"""Who is on the other end of a request: address, cookies, TLS, and whether its page is ours."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

__all__ = ["client_address", "cookie_value", "is_https", "origin_allowed"]


def client_address(peer: str | None, forwarded_for: str, trusted_hops: int) -> str:
    """The client's address: the connecting peer's, or the one a trusted proxy saw.

    With `trusted_hops` reverse proxies in front, X-Forwarded-For is read from the right (a
    client can put anything on its left) at the outermost trusted proxy's entry.
    """
    if trusted_hops:
        hops = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if len(hops) >= trusted_hops:
            return hops[-trusted_hops][:64]
    return (peer or "unknown")[:64]


def cookie_value(header: str, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header; None if it has none (or is malformed)."""
    try:
        morsel = SimpleCookie(header).get(name)
    except CookieError:
        return None
    return morsel.value if morsel is not None else None


def is_https(scheme: str | None, forwarded_proto: str, trusted_hops: int) -> bool:
    """Whether the browser reached the app over TLS.

    Directly, or (with trusted proxies in front) as the nearest proxy's X-Forwarded-Proto says.
    """
    if scheme in ("https", "wss"):
        return True
    return trusted_hops > 0 and forwarded_proto.split(",")[0].strip() == "https"


def origin_allowed(origin: str | None, host: str, allowed: frozenset[str]) -> bool:
    """Whether a request whose page is at `origin` may act here (`host`: the Host header).

    No Origin (a script, curl, an old same-origin form) is allowed: browsers send one on every
    cross-site request that could act. A page of this very host, or of an `allowed` origin (the
    public URL, the dev server) is allowed; any other site, and "null", is not.
    """
    if origin is None:
        return True
    origin = origin.strip().lower()
    if origin in allowed:
        return True
    netloc = urlsplit(origin).netloc
    return bool(netloc) and netloc == host.strip().lower()
