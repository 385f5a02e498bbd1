"""One signed URL per blob and window: the same URL for every request in a window."""

from __future__ import annotations

from visionary_app.services.storage.blob_store import SignedUrl
from visionary_app.services.storage.url_cache import UrlCache


async def test_a_blob_is_signed_once_per_window_with_at_least_half_its_lifetime_left():
    now = [999_910.0]  # 10 s into a window of 900 s
    cache = UrlCache(1800, clock=lambda: now[0])
    signed: list[float] = []

    async def sign(issued_at: float) -> SignedUrl:
        signed.append(issued_at)
        return SignedUrl(
            url=f"/media/a.png?exp={int(issued_at) + 1800}", expires_at=int(issued_at) + 1800
        )

    first = await cache.get("a.png", sign)
    now[0] += 800  # same window (900 s)
    assert await cache.get("a.png", sign) is first and len(signed) == 1
    assert first.expires_at - now[0] >= 900
    now[0] += 200  # the next window
    second = await cache.get("a.png", sign)
    assert second.url != first.url and len(signed) == 2
    assert second.expires_at - now[0] >= 900


async def test_the_cache_is_bounded():
    cache = UrlCache(1800, max_entries=3, clock=lambda: 5.0)

    async def sign(issued_at: float) -> SignedUrl:
        return SignedUrl(url="u", expires_at=int(issued_at) + 1800)

    for index in range(10):
        await cache.get(f"{index}.png", sign)
    assert len(cache._urls) <= 3
