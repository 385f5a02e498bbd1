"""Style presets: words added to the prompt the provider gets, under a name the image keeps.

A handful are built in (the table below, the one place their words live); each user may save
their own. The prompt shown and searched stays the one the person typed; the image records
the preset's name, so the lightbox can say how it was made.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import StylePreset
from visionary_app.services.kit.database import in_session

__all__ = [
    "BUILT_IN",
    "MAX_PRESETS_PER_OWNER",
    "MAX_PRESET_NAME_CHARS",
    "MAX_PRESET_WORDS_CHARS",
    "Preset",
    "PresetRefused",
    "Presets",
    "PresetsUnavailable",
    "styled",
]

MAX_PRESET_NAME_CHARS = 40
MAX_PRESET_WORDS_CHARS = 400
MAX_PRESETS_PER_OWNER = 50


@dataclass(frozen=True)
class Preset:
    """A style: its name, and the words it adds to the prompt."""

    name: str
    words: str
    built_in: bool = False


BUILT_IN = (
    Preset("Photographic", "photograph, natural light, 35mm lens, sharp focus, realistic", True),
    Preset(
        "Watercolour", "watercolour painting, soft washes, paper texture, loose brushwork", True
    ),
    Preset("Line art", "clean black ink line art, no shading, white background", True),
    Preset("3D render", "3D render, soft global illumination, physically based materials", True),
    Preset(
        "Cinematic", "cinematic still, dramatic lighting, shallow depth of field, film grain", True
    ),
    Preset("Pixel art", "pixel art, limited palette, crisp pixels, 16-bit game style", True),
)


def styled(prompt: str, preset: Preset | None) -> str:
    """The prompt the provider gets: the person's, then the preset's words."""
    return f"{prompt.rstrip()}, {preset.words}" if preset and preset.words else prompt


class PresetRefused(Exception):
    """The preset was not saved or used; the message is for the user."""


class PresetsUnavailable(Exception):
    """The presets table could not be read or written."""


def _clean(text: str, limit: int, what: str) -> str:
    words = ("".join(c for c in word if unicodedata.category(c)[0] != "C") for word in text.split())
    cleaned = " ".join(word for word in words if word)
    if not cleaned:
        raise PresetRefused(f"Give the preset {what}.")
    if len(cleaned) > limit:
        raise PresetRefused(f"A preset's {what} can be at most {limit} characters.")
    return cleaned


class Presets:
    """The built-in presets and each owner's own."""

    def __init__(self, engine: sa.Engine) -> None:
        """Users' presets kept in `engine`'s `style_preset` table."""
        self._engine = engine

    async def _run(self, work, action: str):
        def failure(error: str) -> PresetsUnavailable:
            return PresetsUnavailable(f"the presets could not {action}: {error}")

        return await in_session(self._engine, work, failure)

    async def offered(self, owner: str) -> list[Preset]:
        """The built-in presets, then the owner's own by name."""
        query = (
            select(StylePreset)
            .where(col(StylePreset.owner) == owner)
            .order_by(sa.func.lower(col(StylePreset.name)))
        )
        own = await self._run(lambda session: list(session.exec(query)), "be read")
        return [*BUILT_IN, *(Preset(p.name, p.words) for p in own)]

    async def find(self, owner: str, name: str) -> Preset:
        """The preset of this name the owner may use; PresetRefused if there is none."""
        for preset in BUILT_IN:
            if preset.name == name:
                return preset
        query = select(StylePreset).where(
            col(StylePreset.owner) == owner, col(StylePreset.name) == name
        )
        found = await self._run(lambda session: session.exec(query).first(), "be read")
        if found is None:
            raise PresetRefused(f"There is no style preset called {name[:80]!r}.")
        return Preset(found.name, found.words)

    async def save(self, owner: str, name: str, words: str) -> Preset:
        """Save (or replace) one of the owner's presets."""
        name = _clean(name, MAX_PRESET_NAME_CHARS, "a name")
        words = _clean(words, MAX_PRESET_WORDS_CHARS, "words")
        if any(preset.name.casefold() == name.casefold() for preset in BUILT_IN):
            raise PresetRefused(f"“{name}” is a built-in preset; choose another name.")

        def work(session: Session) -> None:
            existing = session.exec(
                select(StylePreset).where(
                    col(StylePreset.owner) == owner, col(StylePreset.name) == name
                )
            ).first()
            if existing is not None:
                existing.words = words
                session.add(existing)
            else:
                count = session.exec(
                    select(sa.func.count())
                    .select_from(StylePreset)
                    .where(col(StylePreset.owner) == owner)
                ).one()
                if count >= MAX_PRESETS_PER_OWNER:
                    raise PresetRefused(f"You have {MAX_PRESETS_PER_OWNER} presets already.")
                session.add(
                    StylePreset(owner=owner, name=name, words=words, created_at=datetime.now(UTC))
                )
            session.commit()

        await self._run(work, "be saved")
        return Preset(name, words)

    async def delete(self, owner: str, name: str) -> bool:
        """Delete one of the owner's presets; False if they have none of that name."""

        def work(session: Session) -> bool:
            result = session.exec(
                sa.delete(StylePreset).where(
                    col(StylePreset.owner) == owner, col(StylePreset.name) == name
                )
            )
            session.commit()
            return bool(result.rowcount)

        return await self._run(work, "be changed")
