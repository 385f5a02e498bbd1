"""The model menu: keys, order from VISIONARY_MODELS, bare names, and what is refused."""

import pytest

from visionary_app.services.generation.model_menu import ModelMenu, UnknownModel
from visionary_app.services.generation.providers import OfflineProvider


def _offline(model: str) -> OfflineProvider:
    return OfflineProvider(model=model)


def test_keys_labels_and_the_default():
    menu = ModelMenu([_offline("a"), _offline("b")])
    assert [choice.key for choice in menu] == ["offline/a", "offline/b"]
    assert menu.default.key == "offline/a" and menu.default.label == "Offline preview · a"
    assert menu.find(None) is menu.default and menu.find("") is menu.default
    assert menu.find("b").key == "offline/b" and menu.find("offline/b").key == "offline/b"
    assert menu.find("c") is None
    with pytest.raises(UnknownModel, match="offline/a, offline/b"):
        menu.get("c")


def test_the_order_restricts_and_orders():
    menu = ModelMenu([_offline("a"), _offline("b"), _offline("c")], order=["c", "offline/a"])
    assert [choice.key for choice in menu] == ["offline/c", "offline/a"]
    assert menu.find("b") is None  # configured, but not offered
    with pytest.raises(UnknownModel, match="'z'"):
        ModelMenu([_offline("a")], order=["z"])


def test_a_model_configured_twice_is_refused():
    with pytest.raises(UnknownModel, match="twice"):
        ModelMenu([_offline("a"), _offline("a")])
