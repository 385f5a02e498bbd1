"""GenerationState: cards while a job runs, tiles and one honest toast when it ends."""

import re

from reflex.state import State

from tests.state.conftest import run_event, said, substate
from visionary_app.models import JobStatus
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.limits.budgets import Budgets
from visionary_app.services.storage.blob_store import StorageError
from visionary_app.services.storage.local_blob_store import LocalBlobStore
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState, cards_for
from visionary_app.state.prompt_history import PromptHistoryState
from visionary_app.state.visitor import VisitorState


class UnsignableStore(LocalBlobStore):
    """Stores as usual but cannot sign URLs: storage went away right after the upload."""

    async def signed_url(self, name):
        raise StorageError("image storage is unavailable")


async def test_a_generation_ends_as_a_tile_and_a_success_toast(tab):
    generation = substate(tab, GenerationState)
    out = await run_event(generation, GenerationState.generate, {"prompt": "a red fox"})
    assert said(out, "Image ready in")
    assert generation.jobs == []
    gallery = substate(tab, GalleryState)
    assert [tile.prompt for tile in gallery.images] == ["a red fox"]


async def test_bad_prompts_are_refused_with_a_message(tab, studio):
    generation = substate(tab, GenerationState)
    out = await run_event(generation, GenerationState.generate, {"prompt": "  "})
    assert said(out, "it is empty")
    assert await studio.jobs.active(generation._owner()) == []


async def test_a_stored_image_that_cannot_be_signed_still_ends_the_job(tab, studio):
    broken = UnsignableStore(studio.store.root, studio.store.signer)
    studio.store = studio.pipeline.store = broken
    generation = substate(tab, GenerationState)
    out = await run_event(generation, GenerationState.generate, {"prompt": "a red fox"})
    assert said(out, "Image ready in")  # stored and indexed: that is a success
    assert generation.jobs == []  # no card left spinning
    assert await studio.catalog.count() == 1


async def test_a_running_job_restored_by_sync_shows_its_time_once(tab, studio):
    generation = substate(tab, GenerationState)
    owner = generation._owner()
    job = await studio.jobs.submit(owner, "restored", ImageOptions(size="256x256"))
    assert [claimed.id for claimed in await studio.jobs.claim(10)] == [job.id]
    await run_event(generation, GenerationState.sync_jobs)
    (card,) = generation.jobs
    assert card.status == JobStatus.RUNNING.value
    assert re.fullmatch(r"\d+ s", card.detail), card.detail  # not "Generating…" twice


def test_queued_cards_say_they_wait():
    from visionary_app.models import GenerationJob

    job = GenerationJob(owner="a", prompt="p", size="256x256", n=2, status=JobStatus.QUEUED)
    cards = cards_for(job)
    assert [c.detail for c in cards] == ["Waiting for a free slot…"] * 2
    assert len({c.id for c in cards}) == 2


async def test_the_job_timer_sends_nothing_when_nothing_changed(tab, studio):
    generation = substate(tab, GenerationState)
    owner = generation._owner()
    job = await studio.jobs.submit(owner, "waiting", ImageOptions(size="256x256"))
    await run_event(generation, GenerationState.sync_jobs)
    assert [card.job_id for card in generation.jobs] == [job.id.hex]
    generation.dirty_vars.clear()
    await run_event(generation, GenerationState.sync_jobs)  # the next tick: same queue
    assert "jobs" not in generation.dirty_vars


async def test_a_card_update_that_changes_nothing_sends_nothing(tab, studio):
    generation = substate(tab, GenerationState)
    job = await studio.jobs.submit(generation._owner(), "ticking", ImageOptions(size="256x256"))
    await run_event(generation, GenerationState.sync_jobs)
    generation._update_cards(job.id.hex, detail="3 s")
    assert "jobs" in generation.dirty_vars
    generation.dirty_vars.clear()
    generation._update_cards(job.id.hex, detail="3 s")  # a tick within the same second
    assert "jobs" not in generation.dirty_vars
    assert [card.detail for card in generation.jobs] == ["3 s"]


async def test_a_job_that_ended_unseen_is_told_until_the_browser_has_shown_it(tab, studio):
    generation = substate(tab, GenerationState)
    owner = generation._owner()
    job = await studio.jobs.submit(owner, "ended unseen", ImageOptions(size="256x256"))
    assert [claimed.id for claimed in await studio.jobs.claim(10)] == [job.id]
    await studio.jobs.finish(job.id, JobStatus.FAILED, error="The server restarted", seen=False)
    told = await run_event(generation, GenerationState.sync_jobs)
    assert said(told, "The server restarted") and said(told, "mark_told")
    # Until that chained event comes back from the browser, every ask tells it again (one toast
    # id, so a tab that hears it twice shows it once).
    again = await run_event(generation, GenerationState.sync_jobs)
    assert said(again, f"ended-{job.id.hex}")
    other_tab = substate(State(_reflex_internal_init=True), GenerationState)
    await run_event(other_tab, GenerationState.mark_told, [job.id.hex])  # another visitor
    assert [ended.id for ended in await studio.jobs.unseen(owner)] == [job.id]
    await run_event(generation, GenerationState.mark_told, [job.id.hex, "not-a-job-id"])
    assert await studio.jobs.unseen(owner) == []
    assert await run_event(generation, GenerationState.sync_jobs) == []


async def test_the_tightest_budget_left_is_shown(tab, studio):
    studio.jobs.budgets = Budgets(visitors_per_day=50_000, app_per_day=1_000_000)
    generation = substate(tab, GenerationState)
    owner = generation._owner()
    await studio.jobs.submit(owner, "a reserved one", ImageOptions(size="256x256"),
                             estimated_micros=20_000)  # fmt: skip
    await run_event(generation, GenerationState.sync_jobs)
    assert generation.budget_left == "$0.03 left of the visitors' shared daily budget"
    studio.jobs.budgets = Budgets()
    await run_event(generation, GenerationState.sync_jobs)
    assert generation.budget_left == ""


async def test_the_up_arrow_recalls_the_last_prompt_and_history_puts_one_back(studio, tab):
    history = substate(tab, PromptHistoryState)
    generation = substate(tab, GenerationState)
    owner = substate(tab, VisitorState)._owner()
    for prompt in ("first idea", "second idea"):
        await studio.jobs.submit(owner, prompt, studio.pipeline.default_options())

    await run_event(history, PromptHistoryState.recall, "ArrowDown")
    assert generation.prompt == ""
    await run_event(history, PromptHistoryState.recall, "ArrowUp")
    assert generation.prompt == "second idea"
    generation.prompt = "typing something"
    await run_event(history, PromptHistoryState.recall, "ArrowUp")
    assert generation.prompt == "typing something"  # only an empty box recalls

    await run_event(history, PromptHistoryState.set_open, True)
    assert history.prompts == ["second idea", "first idea"]
    await run_event(history, PromptHistoryState.set_search, "FIRST")
    assert history.prompts == ["first idea"]
    await run_event(history, PromptHistoryState.use, "someone else's prompt")
    assert generation.prompt == "typing something"  # not one of this owner's: ignored
    await run_event(history, PromptHistoryState.use, "first idea")
    assert generation.prompt == "first idea" and not history.is_open
