"""OptionsState: only what the model offers, defaults filled in, odd input clamped."""

import pytest
from reflex.state import State

from tests.state.conftest import substate
from tests.support.studios import fresh_studio
from visionary_app.settings import get_settings
from visionary_app.state.options import OptionsState


def test_defaults_come_from_the_settings_and_the_model(tab):
    options = substate(tab, OptionsState)
    current = options.current()
    assert (current.size, current.n) == ("256x256", 1)  # VISIONARY_IMAGE_SIZE in the fixture
    assert options.model_label == "Offline preview · offline-preview"


def test_choices_outside_the_model_fall_back(tab, studio):
    options = substate(tab, OptionsState)
    options.size, options.quality, options.count = "7x7", "ultra", "999"
    current = options.current()
    assert current.size == "256x256"
    assert current.quality == (studio.models.default.capabilities.default_quality or None)
    assert current.n == studio.models.default.capabilities.max_n
    options.count = "two"
    assert options.current().n == 1
    options.size = "512x512"
    assert options.current().size == "512x512"


@pytest.fixture
async def two_models(tmp_path, monkeypatch):
    """Offline first, Gemini beside it (built only: nothing is called)."""
    built = fresh_studio(
        monkeypatch, tmp_path, env={"GEMINI_API_KEY": "not-called-0000000000"}, provider="offline"
    )
    yield built
    await built.aclose()
    get_settings.cache_clear()


def test_the_options_follow_the_chosen_model(two_models):
    options = substate(State(_reflex_internal_init=True), OptionsState)
    assert options.models == [
        ["offline/offline-preview", "Offline preview · offline-preview"],
        ["gemini/gemini-2.5-flash-image", "Google Gemini · gemini-2.5-flash-image"],
    ]
    assert options.selected_model == "offline/offline-preview" and options.mask_note == ""
    options.set_model("gemini/gemini-2.5-flash-image")
    assert options.size_label == "Aspect ratio" and "16:9" in options.sizes
    assert "1024x1024" not in options.sizes and options.selected_size == "1:1"
    assert "second picture" in options.mask_note
    options.size = "16:9"
    current = options.current()
    assert (current.model, current.size) == ("gemini/gemini-2.5-flash-image", "16:9")
    options.set_model("someone-elses/model")  # not on the menu: the choice stays
    assert options.selected_model == "gemini/gemini-2.5-flash-image"
    options.model = "a/model-that-was-removed"  # remembered by the browser, gone since
    assert options.current().model == "offline/offline-preview"


def test_the_offline_studio_costs_nothing(tab):
    assert substate(tab, OptionsState).cost_estimate == "Free"
