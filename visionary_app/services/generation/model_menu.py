"""The models a studio offers, side by side: each a provider and model, chosen per job.

Each entry's key is `provider/model` (`openai/gpt-image-2`, `gemini/gemini-2.5-flash-image`,
`comfyui/text-to-image`): it is what a job records, what the API's `model` field takes and what
the picker sends. The first entry is the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from visionary_app.services.generation.providers.base import (
    PROVIDER_LABELS,
    ImageProvider,
)
from visionary_app.services.generation.providers.capabilities import ModelCapabilities

__all__ = ["ModelChoice", "ModelMenu", "UnknownModel", "model_key"]


class UnknownModel(ValueError):
    """A model that is not on the menu (or no longer is); the message says what is."""


def model_key(provider_name: str, model: str) -> str:
    """The menu key of a provider's model."""
    return f"{provider_name}/{model}"


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the menu: a model of one configured provider."""

    provider: ImageProvider

    @property
    def key(self) -> str:
        """`provider/model`, stable across restarts and workers."""
        return model_key(self.provider.name, self.provider.model)

    @property
    def model(self) -> str:
        """The model's own name."""
        return self.provider.model

    @property
    def label(self) -> str:
        """The entry as the picker shows it: "Provider · model"."""
        name = self.provider.name
        return f"{PROVIDER_LABELS.get(name, getattr(self.provider, 'label', name))} · {self.model}"

    @property
    def capabilities(self) -> ModelCapabilities:
        """What the model accepts."""
        return self.provider.capabilities


class ModelMenu:
    """The configured models in the order offered; the first is the default."""

    def __init__(self, providers: Iterable[ImageProvider], order: Sequence[str] = ()) -> None:
        """Every provider's model; `order` (keys or bare model names) restricts and orders them.

        Raises UnknownModel when `order` names a model that no provider has, or leaves none.
        """
        choices = [ModelChoice(provider) for provider in providers]
        keys = [choice.key for choice in choices]
        if len(set(keys)) != len(keys):
            msg = f"a model is configured twice: {', '.join(sorted(keys))}"
            raise UnknownModel(msg)
        if order:
            by_name = {choice.key: choice for choice in choices}
            wanted = []
            for name in order:
                choice = by_name.get(name) or self._only_one(choices, name)
                if choice is None:
                    msg = f"VISIONARY_MODELS names {name!r}, which no configured provider has"
                    raise UnknownModel(msg)
                if choice not in wanted:
                    wanted.append(choice)
            choices = wanted
        if not choices:
            msg = "no image model is configured"
            raise UnknownModel(msg)
        self._order = list(order)
        self._choices = tuple(choices)
        self._by_key = {choice.key: choice for choice in self._choices}

    def add(self, providers: Iterable[ImageProvider]) -> list[ModelChoice]:
        """Offer models found later (a server's checkpoints); those already offered are kept.

        With an order set, only models it names are added, in its order after the others.
        """
        added = []
        for provider in providers:
            choice = ModelChoice(provider)
            if choice.key in self._by_key:
                continue
            if self._order and not {choice.key, choice.model} & set(self._order):
                continue
            added.append(choice)
        if added:
            self._choices = (*self._choices, *added)
            self._by_key = {choice.key: choice for choice in self._choices}
        return added

    @staticmethod
    def _only_one(choices: Sequence[ModelChoice], model: str) -> ModelChoice | None:
        found = [choice for choice in choices if choice.model == model]
        return found[0] if len(found) == 1 else None

    def __iter__(self) -> Iterator[ModelChoice]:
        return iter(self._choices)

    def __len__(self) -> int:
        return len(self._choices)

    @property
    def default(self) -> ModelChoice:
        """The first model: used when a job names none."""
        return self._choices[0]

    @property
    def providers(self) -> list[ImageProvider]:
        """Each configured provider object once, in menu order."""
        seen: dict[int, ImageProvider] = {}
        for choice in self._choices:
            seen.setdefault(id(choice.provider), choice.provider)
        return list(seen.values())

    def find(self, name: str | None) -> ModelChoice | None:
        """The entry for a key or a bare model name (if only one provider has it); None: default."""
        if not name:
            return self.default
        return self._by_key.get(name) or self._only_one(self._choices, name)

    def get(self, name: str | None) -> ModelChoice:
        """Like `find`, but raises UnknownModel naming what may be chosen."""
        choice = self.find(name)
        if choice is None:
            offered = ", ".join(choice.key for choice in self._choices)
            msg = f"The model {name!r} is not offered here. Choose one of: {offered}."
            raise UnknownModel(msg)
        return choice
