import uuid
from datetime import UTC, datetime, timedelta

from tests.conftest import ANYONE, indexed_image
from visionary_app.services.gallery.catalog import Catalog, PageCursor

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def test_newest_first_with_utc_times(catalog: Catalog):
    for minutes in (0, 2, 1):
        await catalog.add(indexed_image(T0 + timedelta(minutes=minutes), prompt=str(minutes)))
    rows = await catalog.newest(10, viewer=ANYONE)
    assert [row.prompt for row in rows] == ["2", "1", "0"]
    assert rows[0].created_at == T0 + timedelta(minutes=2)
    assert rows[0].created_at.tzinfo is not None


async def test_keyset_pages_never_repeat_or_skip(catalog: Catalog):
    # Many images share a timestamp, so the id must break ties.
    added = [indexed_image(T0 + timedelta(seconds=i // 4)) for i in range(23)]
    for image in added:
        await catalog.add(image)
    seen: list[uuid.UUID] = []
    cursor = None
    for _ in range(50):  # bounded: a cursor that does not advance must fail, not hang
        page = await catalog.newest(5, before=cursor, viewer=ANYONE)
        if not page:
            break
        seen.extend(row.id for row in page)
        cursor = PageCursor.after(page[-1])
    assert len(seen) == len(set(seen)) == 23
    expected = sorted(added, key=lambda image: (image.created_at, image.id), reverse=True)
    assert seen == [image.id for image in expected]


async def test_prompt_round_trips_exactly(catalog: Catalog):
    prompt = "🦊 ../..\\ <b>x</b> 日本語 «ß» \u200d\ttab\nline"
    image = await catalog.add(indexed_image(T0, prompt=prompt))
    assert (await catalog.get(image.id)).prompt == prompt
    assert await catalog.count() == 1
