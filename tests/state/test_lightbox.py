"""LightboxState: a bad id or an unreadable index becomes a message, never a crash."""

import uuid

from tests.state.conftest import run_event, said, substate, visitor_tab
from visionary_app.services.gallery.catalog import Catalog, CatalogError
from visionary_app.state.gallery import GalleryState
from visionary_app.state.lightbox import LightboxState


class DownCatalog(Catalog):
    """The real catalog, with its database unreachable for reads."""

    async def get(self, image_id):
        raise CatalogError("the image index could not be read: connection refused")


async def test_a_malformed_id_is_a_message(tab):
    lightbox = substate(tab, LightboxState)
    out = await run_event(lightbox, LightboxState.open_image, "not-a-uuid")
    assert said(out, "could not be opened") and not lightbox.is_open
    lightbox.image_id = "../../etc/passwd"
    assert said(await run_event(lightbox, LightboxState.more_like_this), "could not be read")
    assert said(await run_event(lightbox, LightboxState.delete), "could not be deleted")


async def test_an_index_outage_is_a_message(tab, studio):
    studio.catalog = DownCatalog(studio.catalog._engine)
    lightbox = substate(tab, LightboxState)
    image_id = str(uuid.uuid4())
    out = await run_event(lightbox, LightboxState.open_image, image_id)
    assert said(out, "could not be opened")
    lightbox.image_id = image_id
    assert said(await run_event(lightbox, LightboxState.more_like_this), "could not be read")
    assert said(await run_event(lightbox, LightboxState.delete), "index is unavailable")


async def test_only_the_owner_changes_an_image_and_nobody_else_sees_it_private(studio):
    owner, other = visitor_tab("a" * 32), visitor_tab("b" * 32)
    image = await studio.pipeline.generate("mine", owner=f"visitor:{'a' * 32}")
    image_id = str(image.id)

    theirs = substate(other, LightboxState)
    await run_event(theirs, LightboxState.open_image, image_id)
    assert theirs.is_open and not theirs.can_change and theirs.owner_label == "a visitor"
    out = await run_event(theirs, LightboxState.toggle_visibility)  # a crafted event
    assert said(out, "only its owner")
    out = await run_event(theirs, LightboxState.delete)
    assert said(out, "only its owner")
    assert (await studio.catalog.get(image.id)).visibility == "shared"

    mine = substate(owner, LightboxState)
    await run_event(mine, LightboxState.open_image, image_id)
    assert mine.can_change and mine.owner_label == "you"
    assert said(await run_event(mine, LightboxState.toggle_visibility), "Private")
    (blob,) = [b async for b in studio.store.list_blobs() if b.name == image.blob_name]
    assert blob.metadata["visibility"] == "private"  # so sync restores it

    theirs = substate(visitor_tab("b" * 32), LightboxState)
    out = await run_event(theirs, LightboxState.open_image, image_id)
    assert said(out, "could not be opened") and theirs.prompt == ""
    gallery = substate(other, GalleryState)
    await run_event(gallery, GalleryState.load)
    assert gallery.images == []
