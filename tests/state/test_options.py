"""OptionsState: only what the model offers, defaults filled in, odd input clamped."""

from tests.state.conftest import substate
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
    assert current.quality == (studio.capabilities.default_quality or None)
    assert current.n == studio.capabilities.max_n
    options.count = "two"
    assert options.current().n == 1
    options.size = "512x512"
    assert options.current().size == "512x512"
