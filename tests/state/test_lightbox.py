"""LightboxState: a bad id or an unreadable index becomes a message, never a crash."""

import uuid

from tests.state.conftest import run_event, said, substate
from visionary_app.services.catalog import Catalog, CatalogError
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
    assert said(await run_event(lightbox, LightboxState.regenerate), "could not be read")
    assert said(await run_event(lightbox, LightboxState.delete), "could not be deleted")


async def test_an_index_outage_is_a_message(tab, studio):
    studio.catalog = DownCatalog(studio.catalog._engine)
    lightbox = substate(tab, LightboxState)
    image_id = str(uuid.uuid4())
    out = await run_event(lightbox, LightboxState.open_image, image_id)
    assert said(out, "could not be opened")
    lightbox.image_id = image_id
    assert said(await run_event(lightbox, LightboxState.regenerate), "could not be read")
    assert said(await run_event(lightbox, LightboxState.delete), "index is unavailable")
