import dataclasses
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from tests.conftest import small_pipeline
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.generation.pipeline import (
    GenerationFailed,
    GenerationPipeline,
    InvalidPrompt,
    validate_prompt,
)
from visionary_app.services.generation.providers import OfflineProvider, ProviderError
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.storage.blob_store import StorageError
from visionary_app.services.storage.local_blob_store import LocalBlobStore


def _blob_files(store: LocalBlobStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


def _pipeline(store, catalog, provider=None) -> GenerationPipeline:
    return small_pipeline(store, catalog, provider, max_prompt_length=50)


# Prompt validation


@pytest.mark.parametrize("raw", ["", "   ", "\n\t ", "\u3000"])
def test_empty_prompts_are_refused(raw):
    with pytest.raises(InvalidPrompt, match="empty"):
        validate_prompt(raw, 100)


def test_surrounding_whitespace_is_trimmed_and_the_rest_kept():
    assert validate_prompt("  a  b \n c \n", 100) == "a  b \n c"


@pytest.mark.parametrize(
    "prompt",
    [
        "🦊 fox, 狐狸, キツネ, лиса, ثعلب",
        "<img src=x onerror=alert(1)>",
        "../../etc/passwd ..\\..\\windows",
        "zero\u200dwidth joiner and combining e\u0301",
        "quotes \" ' ` and % & ; | $(rm -rf /)",
    ],
)
def test_unusual_prompts_round_trip(prompt):
    assert validate_prompt(prompt, 100) == prompt


def test_limit_is_inclusive_and_the_message_says_by_how_much():
    assert validate_prompt("x" * 50, 50) == "x" * 50
    with pytest.raises(InvalidPrompt) as error:
        validate_prompt("x" * 53, 50)
    assert str(error.value) == (
        "The prompt is too long: 53 characters, the limit is 50. Shorten it by 3 characters."
    )


def test_control_characters_and_broken_unicode_are_refused():
    with pytest.raises(InvalidPrompt, match="U\\+0000"):
        validate_prompt("nul\x00byte", 100)
    with pytest.raises(InvalidPrompt, match="U\\+001B"):
        validate_prompt("escape\x1b[31m", 100)
    with pytest.raises(InvalidPrompt, match="surrogate"):
        validate_prompt("half \ud83e emoji", 100)


# The pipeline


async def test_success_stores_the_blob_then_indexes_it(store, catalog):
    order: list[str] = []

    class RecordingStore(LocalBlobStore):
        async def put(self, name, data, content_type, metadata):
            order.append(f"put {content_type} rows={await catalog.count()}")
            await super().put(name, data, content_type, metadata)

    recording = RecordingStore(store.root, store.signer)
    image = await _pipeline(recording, catalog).generate("  a fox 🦊 in ../snow  ")

    assert order == ["put image/webp rows=0", "put image/png rows=0"]
    assert image.prompt == "a fox 🦊 in ../snow"
    assert "fox" not in image.blob_name and ".." not in image.blob_name
    assert (image.width, image.height, image.content_type) == (256, 256, "image/png")
    assert (image.provider, image.model) == ("offline", "offline-preview")
    stored = store.path_for(image.blob_name).read_bytes()
    assert len(stored) == image.byte_size and stored.startswith(b"\x89PNG")
    row = await catalog.get(image.id)
    assert row is not None and row.blob_name == image.blob_name
    thumbnail = store.path_for(row.thumbnail_blob_name).read_bytes()
    assert thumbnail[8:12] == b"WEBP"
    assert (row.thumbnail_width, row.thumbnail_height) == (256, 256)
    assert row.prompt == "a fox 🦊 in ../snow"


async def test_invalid_prompt_calls_nothing(store, catalog):
    with pytest.raises(InvalidPrompt):
        await _pipeline(store, catalog).generate("x" * 51)
    assert await catalog.count() == 0
    assert _blob_files(store) == []


async def test_store_failure_reports_storage_and_indexes_nothing(store, catalog):
    class BrokenStore(LocalBlobStore):
        async def put(self, name, data, content_type, metadata):
            raise StorageError("disk on fire")

    with pytest.raises(GenerationFailed, match="storage is unavailable"):
        await _pipeline(BrokenStore(store.root, store.signer), catalog).generate("a cat")
    assert await catalog.count() == 0
    assert _blob_files(store) == []


async def test_index_failure_removes_the_blob(store, tmp_path):
    # A database without the table: the insert fails for real, after the upload succeeded.
    engine = make_index_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")
    puts: list[str] = []

    class WatchedStore(LocalBlobStore):
        async def put(self, name, data, content_type, metadata):
            await super().put(name, data, content_type, metadata)
            puts.append(name)

    watched = WatchedStore(store.root, store.signer)
    with pytest.raises(GenerationFailed, match="discarded"):
        await _pipeline(watched, Catalog(engine)).generate("a cat")
    assert len(puts) == 2  # the thumbnail and image were written...
    assert _blob_files(store) == []  # ...and removed again
    with engine.connect() as connection:
        assert not sa.inspect(connection).has_table("image")


async def test_provider_failure_message_reaches_the_user(store, catalog):
    class RefusingProvider(OfflineProvider):
        async def generate(self, prompt, options, **_identity):
            raise ProviderError("The provider refused the prompt.")

    with pytest.raises(GenerationFailed, match="refused the prompt"):
        await _pipeline(store, catalog, RefusingProvider()).generate("a cat")
    assert await catalog.count() == 0
    assert _blob_files(store) == []


class BombSecond(OfflineProvider):
    """Draws as usual, except that the batch's second picture has too many pixels to open."""

    async def generate(self, prompt, options, **_identity):
        images = await super().generate(prompt, options)
        buffer = io.BytesIO()
        PILImage.new("1", (4000, 4000)).save(buffer, format="PNG")
        images[1] = dataclasses.replace(images[1], data=buffer.getvalue(), width=4000, height=4000)
        return images


async def test_a_decompression_bomb_in_a_batch_keeps_the_gallery_and_the_count_agreeing(
    store, catalog, monkeypatch
):
    # Pillow refuses images over twice MAX_IMAGE_PIXELS with DecompressionBombError, which is
    # not an OSError: 16 M pixels against a limit lowered to 5 M here.
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 5_000_000)
    pipeline = _pipeline(store, catalog, BombSecond())
    batch = await pipeline.generate_batch(
        "three foxes", ImageOptions(size="256x256", n=3), owner="user:alice"
    )
    assert len(batch.kept) == 2 and len(batch.failures) == 1
    assert "too many pixels" in str(batch.failures[0])
    assert await catalog.count() == 2  # exactly the images the job says it kept
    kept_blobs = {image.blob_name for image in batch.kept}
    images_stored = {p.relative_to(store.root).as_posix() for p in _blob_files(store)
                     if p.suffix == ".png"}  # fmt: skip
    assert images_stored == kept_blobs  # nothing of the bomb was stored


async def test_a_style_preset_goes_to_the_provider_and_the_image_keeps_the_typed_prompt(
    store, catalog
):
    from visionary_app.models import ImageKind
    from visionary_app.services.generation.pipeline import Recipe
    from visionary_app.services.generation.presets import BUILT_IN

    sent: list[str] = []

    class Recording(OfflineProvider):
        async def generate(self, prompt, options, **identity):
            sent.append(prompt)
            return await super().generate(prompt, options)

    watercolour = next(p for p in BUILT_IN if p.name == "Watercolour")
    recipe = Recipe(
        ImageKind.GENERATED, "a harbour", ImageOptions(size="256x256"), preset=watercolour
    )
    pipeline = small_pipeline(store, catalog, Recording())
    (image,) = (await pipeline.make(recipe, owner="user:a")).kept
    assert sent == [f"a harbour, {watercolour.words}"]
    assert image.prompt == "a harbour" and image.preset == "Watercolour"
