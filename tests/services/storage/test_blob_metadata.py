import uuid
from datetime import UTC, datetime

import pytest

from visionary_app.models import Image
from visionary_app.services.storage.blob_metadata import (
    METADATA_BUDGET_BYTES,
    MetadataError,
    decode_image,
    encode_image,
)

PROMPTS = [
    "a fox",
    "🦊🦊 emoji, 狐狸 CJK, \"quotes\" 'single', back\\slash",
    "line one\nline two\r\n\ttabbed",
    "<script>alert(1)</script> ../../etc/passwd",
    "x" * 2000,
    "狐" * 2000,
    "🦊" * 4000,
]


def _image(prompt: str, revised: str | None = None, model: str = "gpt-image-1") -> Image:
    image_id = uuid.uuid4()
    return Image(
        id=image_id,
        blob_name=f"images/2026/11/25/{image_id}.png",
        prompt=prompt,
        created_at=datetime(2026, 11, 25, 10, 30, 1, 123456, tzinfo=UTC),
        provider="openai",
        model=model,
        width=1024,
        height=1536,
        content_type="image/png",
        byte_size=1234,
        revised_prompt=revised,
    )


def _ascii_and_within_budget(metadata: dict[str, str]) -> None:
    for key, value in metadata.items():
        assert key.isidentifier() and key.isascii()
        assert value.isascii() and "\n" not in value
    assert sum(len(k) + len(v) for k, v in metadata.items()) <= METADATA_BUDGET_BYTES


@pytest.mark.parametrize("prompt", PROMPTS)
def test_every_prompt_round_trips_byte_for_byte(prompt):
    image = _image(prompt, revised=f"revised: {prompt[:100]}", model="modèle-ü")
    encoded = encode_image(image)
    _ascii_and_within_budget(encoded.metadata)
    rebuilt = decode_image(
        image.blob_name,
        encoded.metadata,
        byte_size=1234,
        content_type="image/png",
        text_blob=encoded.text_blob,
    )
    assert rebuilt.model_dump() == image.model_dump()


def test_long_prompts_move_to_a_text_blob_and_short_ones_do_not():
    assert encode_image(_image("short")).text_blob is None
    assert encode_image(_image("🦊" * 4000)).text_blob is not None


def test_metadata_keys_are_case_insensitive():
    image = _image("Case")
    upper = {k.upper(): v for k, v in encode_image(image).metadata.items()}
    assert decode_image(image.blob_name, upper, byte_size=1, content_type="image/png").prompt == (
        "Case"
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: m.pop("image_id"),
        lambda m: m.update(prompt_b64="***"),
        lambda m: m.update(format="99"),
        lambda m: m.update(created_at="yesterday"),
        lambda m: m.update(width="wide"),
    ],
)
def test_damaged_metadata_says_so(damage):
    image = _image("fine")
    metadata = dict(encode_image(image).metadata)
    damage(metadata)
    with pytest.raises(MetadataError):
        decode_image(image.blob_name, metadata, byte_size=1, content_type="image/png")


def test_missing_text_blob_is_an_error():
    image = _image("🦊" * 4000)
    with pytest.raises(MetadataError, match="text blob is missing"):
        decode_image(
            image.blob_name, encode_image(image).metadata, byte_size=1, content_type="image/png"
        )
