"""Prompt suggestions: a chat model writes one, or a local generator does with no key at all."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Protocol

from visionary_app.services.generation.providers.base import ProviderError
from visionary_app.services.generation.providers.errors import provider_error

if TYPE_CHECKING:
    import openai

__all__ = ["ChatSuggester", "OfflineSuggester", "PromptSuggester"]

_INSTRUCTIONS = (
    "You write prompts for an AI image generator. Reply with one vivid prompt of 15 to 40 "
    "words: a concrete subject, a setting, a visual style, and a medium (for example oil "
    "painting, 35mm photograph, watercolour, 3D render). No quotes, no preamble, one line."
)

_SUBJECTS = [
    "a lighthouse keeper feeding seagulls",
    "a fox curled up in a library armchair",
    "an abandoned greenhouse overtaken by orchids",
    "a night market on a floating city",
    "a robot tending a bonsai tree",
    "a whale drifting above a desert at dawn",
    "a tiny cottage inside a glass bottle",
    "an astronaut fishing on a frozen moon lake",
    "a tea house on a cliff in the rain",
    "a street musician surrounded by paper lanterns",
]
_STYLES = [
    "in the style of Studio Ghibli",
    "art nouveau",
    "cinematic lighting, shallow depth of field",
    "soft pastel palette",
    "moody film noir",
    "vaporwave colours",
    "golden hour glow",
    "isometric, highly detailed",
]
_MEDIA = [
    "watercolour on textured paper",
    "oil painting with visible brushstrokes",
    "35mm film photograph",
    "3D render",
    "linocut print",
    "gouache illustration",
    "charcoal sketch",
    "stained glass",
]


class PromptSuggester(Protocol):
    """Writes a creative prompt."""

    async def suggest(self) -> str:
        """One prompt, ready to generate from."""
        ...


class OfflineSuggester:
    """Subject, style and medium picked at random from built-in lists."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()  # noqa: S311 (variety, not security)

    async def suggest(self) -> str:
        """Combine one subject, style and medium."""
        pick = self._rng.choice
        return f"{pick(_SUBJECTS)}, {pick(_STYLES)}, {pick(_MEDIA)}"


class ChatSuggester:
    """Asks a chat model (OpenAI, Azure OpenAI or compatible) for a prompt."""

    def __init__(
        self, client: openai.AsyncOpenAI, *, model: str, label: str, timeout_s: float
    ) -> None:
        self._client = client
        self._model = model
        self._label = label
        self._timeout_s = timeout_s

    async def suggest(self) -> str:
        """One line from the model, cleaned of quotes and surrounding space."""
        import openai  # loaded already, with the client this suggester was given

        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=[
                    {"role": "system", "content": _INSTRUCTIONS},
                    {"role": "user", "content": "Suggest a prompt."},
                ],
            )
        except openai.OpenAIError as exc:
            raise provider_error(exc, label=self._label, timeout_s=self._timeout_s) from exc
        text = (response.choices[0].message.content or "") if response.choices else ""
        text = " ".join(text.split()).strip().strip('"“”').strip()
        if not text:
            raise ProviderError(f"{self._label} returned an empty suggestion; try again.")
        return text
