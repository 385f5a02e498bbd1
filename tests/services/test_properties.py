"""Property tests: any string either round-trips exactly or is refused with a clear message."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visionary_app.models import Image
from visionary_app.services.gallery.search_index import like_pattern, search_terms
from visionary_app.services.generation.pipeline import InvalidPrompt, validate_prompt
from visionary_app.services.storage.blob_metadata import (
    METADATA_BUDGET_BYTES,
    decode_image,
    encode_image,
)
from visionary_app.services.storage.blob_names import (
    companion_blob_names,
    is_image_blob_name,
    is_valid_blob_name,
    make_blob_name,
)

MAX_LENGTH = 4000
# Every code point, surrogates included: what a browser or an API client could send.
any_text = st.text(alphabet=st.characters(codec=None), max_size=5000)
valid_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=9000
)
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
)
CONTENT_TYPES = ["image/png", "image/jpeg", "image/webp"]


@settings(max_examples=400)
@given(any_text)
def test_prompt_validation_accepts_exactly_or_explains(raw):
    try:
        prompt = validate_prompt(raw, MAX_LENGTH)
    except InvalidPrompt as refusal:
        message = str(refusal)
        assert message and message[0].isupper() and message.endswith((".", "again."))
        return
    assert prompt == raw.strip()  # kept exactly as typed, apart from surrounding space
    assert 1 <= len(prompt) <= MAX_LENGTH
    prompt.encode("utf-8")  # storable everywhere


@settings(max_examples=300)
@given(st.uuids(version=4), moments, st.sampled_from(CONTENT_TYPES))
def test_blob_names_are_built_from_ids_and_dates_only(image_id, created_at, content_type):
    name = make_blob_name(image_id, created_at, content_type)
    assert is_image_blob_name(name) and is_valid_blob_name(name)
    assert name.startswith(f"images/{created_at:%Y/%m/%d}/{image_id}.")
    for companion in companion_blob_names(name):
        assert is_valid_blob_name(companion) and not is_image_blob_name(companion)
        assert companion.rsplit(".", 2)[0] == name.rsplit(".", 1)[0]


@settings(max_examples=300)
@given(any_text)
def test_arbitrary_text_is_never_taken_for_a_blob_name_with_path_tricks(text):
    if is_valid_blob_name(text):
        assert ".." not in text and "\\" not in text and not text.startswith("/")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid_text,
    st.one_of(st.none(), valid_text),
    st.text(min_size=1, max_size=60),
    st.text(min_size=1, max_size=60),
    moments,
)
def test_metadata_round_trips_any_prompt_exactly(prompt, revised, provider, model, created_at):
    provider = provider.encode("utf-8", "replace").decode("utf-8")
    model = model.encode("utf-8", "replace").decode("utf-8")
    image_id = uuid.uuid4()
    name = make_blob_name(image_id, created_at, "image/png")
    image = Image(
        id=image_id, blob_name=name, prompt=prompt, created_at=created_at, provider=provider,
        model=model, width=1024, height=768, content_type="image/png", byte_size=123,
        revised_prompt=revised,
    )  # fmt: skip
    encoded = encode_image(image)
    # Azure's rule: metadata is ASCII and at most 8 KiB in all.
    assert all(key.isascii() and value.isascii() for key, value in encoded.metadata.items())
    assert sum(len(k) + len(v) for k, v in encoded.metadata.items()) <= METADATA_BUDGET_BYTES
    if encoded.text_blob is not None:
        json.loads(encoded.text_blob)
    back = decode_image(
        name, encoded.metadata, byte_size=123, content_type="image/png",
        text_blob=encoded.text_blob,
    )  # fmt: skip
    assert (back.id, back.prompt, back.revised_prompt) == (image.id, prompt, revised)
    assert (back.provider, back.model) == (provider, model)
    assert abs(back.created_at - created_at) < timedelta(microseconds=1)


@settings(max_examples=300)
@given(any_text)
def test_search_terms_and_like_patterns_never_crash_and_escape_wildcards(query):
    terms = search_terms(query)
    assert len(terms) <= 8 and all(term and not term.isspace() for term in terms)
    for term in terms:
        pattern = like_pattern(term)
        inner = pattern[1:-1]
        unescaped = inner.replace("\\\\", "").replace("\\%", "").replace("\\_", "")
        assert "%" not in unescaped and "_" not in unescaped
