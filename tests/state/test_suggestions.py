"""SuggestionState: whatever the suggester does, the buttons stop spinning and the user hears."""

import pytest
from reflex.state import State

from tests.state.conftest import run_event, said, substate
from visionary_app.services.generation.providers import ProviderError
from visionary_app.state.generation import GenerationState
from visionary_app.state.suggestions import SuggestionState


class Suggester:
    def __init__(self, outcome) -> None:
        self.outcome = outcome

    async def suggest(self) -> str:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ProviderError("OpenAI did not answer in time."), "No suggestion: OpenAI did not answer"),
        (RuntimeError("a bug"), "something went wrong on the server"),
    ],
)
async def test_a_failed_suggestion_says_so_and_stops_spinning(tab, studio, error, message):
    studio.suggester = Suggester(error)
    suggestions = substate(tab, SuggestionState)
    for handler in (SuggestionState.suggest, SuggestionState.use_suggestion):
        out = await run_event(suggestions, handler)
        assert said(out, message)
        assert suggestions.suggesting is False


async def test_a_suggestion_fills_the_prompt_box(tab, studio):
    studio.suggester = Suggester("a lighthouse at dusk")
    suggestions = substate(tab, SuggestionState)
    await run_event(suggestions, SuggestionState.suggest)
    assert substate(tab, GenerationState).prompt == "a lighthouse at dusk"
    out = await run_event(suggestions, SuggestionState.use_suggestion)
    assert said(out, "generate") and suggestions.suggesting is False


async def test_suggestions_are_metered_per_user_and_for_visitors_together(tab, studio):
    class Counting(Suggester):
        calls = 0

        async def suggest(self) -> str:
            Counting.calls += 1
            return "a fox"

    studio.suggester = Counting("a fox")
    studio.suggestion_meter.per_owner_per_hour = 2
    studio.suggestion_meter.anonymous_per_hour = 3
    suggestions = substate(tab, SuggestionState)
    for _ in range(2):
        assert not said(await run_event(suggestions, SuggestionState.suggest), "No suggestion")
    out = await run_event(suggestions, SuggestionState.suggest)
    assert said(out, "limit of 2 suggestions per hour")
    # A new cookie is a new visitor, but visitors share one budget: one more, then none.
    others = [State(_reflex_internal_init=True) for _ in range(2)]
    outs = [await run_event(substate(t, SuggestionState), SuggestionState.suggest) for t in others]
    assert not said(outs[0], "No suggestion")
    assert said(outs[1], "visitors without an account have together reached their limit of 3")
    assert Counting.calls == 3  # the refused ones never reached the paid model
