"""Who is on the other end of a request: its address, and whether its page is one of ours."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["client_address", "origin_allowed", "origin_of"]


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


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased (an Origin header's form)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}" if parts.netloc else ""


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
