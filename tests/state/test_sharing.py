"""SharingState: only an image's owner makes a link to it, whatever the browser sends."""

from tests.state.conftest import run_event, said, substate, visitor_tab
from visionary_app.state.lightbox import LightboxState
from visionary_app.state.sharing import SharingState

ALICE, BOB = "a" * 32, "b" * 32


async def test_a_crafted_share_of_someone_elses_image_is_refused(studio):
    image = await studio.pipeline.generate("alice's", owner=f"visitor:{ALICE}")
    bob = visitor_tab(BOB)
    await run_event(substate(bob, LightboxState), LightboxState.open_image, str(image.id))
    sharing = substate(bob, SharingState)
    await run_event(sharing, SharingState.open_for_image)
    out = await run_event(sharing, SharingState.create)
    assert said(out, "Only its owner") and sharing.url == ""
    assert await studio.share_links.of(f"visitor:{BOB}") == []

    alice = visitor_tab(ALICE)
    await run_event(substate(alice, LightboxState), LightboxState.open_image, str(image.id))
    mine = substate(alice, SharingState)
    await run_event(mine, SharingState.open_for_image)
    await run_event(mine, SharingState.set_expiry, "never")  # not offered here
    out = await run_event(mine, SharingState.create)
    assert said(out, "never expire") and mine.url == ""
    await run_event(mine, SharingState.set_expiry, "hour")
    await run_event(mine, SharingState.create)
    assert "/s/" in mine.url
    # Bob cannot revoke Alice's link by its id.
    out = await run_event(sharing, SharingState.revoke, mine.link_id)
    assert said(out, "No such link")
    ((link, _),) = await studio.share_links.of(f"visitor:{ALICE}")
    assert link.revoked_at is None
