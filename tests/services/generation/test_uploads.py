"""Uploads: decoded not trusted, limited before their pixels are read, stripped of metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from tests.conftest import small_pipeline
from visionary_app.services.generation.uploads import (
    UploadLimits,
    UploadRefused,
    Uploads,
    clean_upload,
    upload_name,
)
from visionary_app.services.limits.image_limits import LimitReached
from visionary_app.services.limits.usage import UsageMeter


def _encoded(file_format: str, size=(64, 48), mode="RGB", **save) -> bytes:
    buffer = io.BytesIO()
    colour = 0 if mode == "1" else (10, 20, 30, 128)[: len(mode)]
    PILImage.new(mode, size, colour).save(buffer, format=file_format, **save)
    return buffer.getvalue()


def _exif() -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotated: shown upright after cleaning
    exif[0x010F] = "SecretCam"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # a location
    return exif.tobytes()


@pytest.mark.parametrize("file_format", ["PNG", "JPEG", "WEBP"])
def test_metadata_is_stripped_and_the_picture_turned_upright(file_format):
    cleaned = clean_upload(_encoded(file_format, exif=_exif()), UploadLimits())
    picture = PILImage.open(io.BytesIO(cleaned.data))
    assert picture.format == file_format
    assert (cleaned.width, cleaned.height) == picture.size == (48, 64)
    assert dict(picture.getexif()) == {} and b"SecretCam" not in cleaned.data


_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>SecretPlace</rdf:RDF></x:xmpmeta>'


@pytest.mark.parametrize(
    ("file_format", "save"),
    [
        ("JPEG", {"comment": b"SecretComment"}),
        ("JPEG", {"xmp": _XMP}),
        ("WEBP", {"xmp": _XMP}),
        ("PNG", {"pnginfo": None}),  # a text chunk, added below
    ],
    ids=["jpeg-comment", "jpeg-xmp", "webp-xmp", "png-text"],
)
def test_comments_and_other_metadata_are_not_kept(file_format, save):
    if file_format == "PNG":
        from PIL.PngImagePlugin import PngInfo

        save = {"pnginfo": PngInfo()}
        save["pnginfo"].add_text("Comment", "SecretComment")
    original = _encoded(file_format, **save)
    assert b"Secret" in original  # the upload carries it
    cleaned = clean_upload(original, UploadLimits())
    assert b"Secret" not in cleaned.data
    assert PILImage.open(io.BytesIO(cleaned.data)).info.get("comment") is None


def test_the_colour_profile_is_kept():
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    cleaned = clean_upload(_encoded("JPEG", icc_profile=profile), UploadLimits())
    assert PILImage.open(io.BytesIO(cleaned.data)).info.get("icc_profile") == profile


def test_transparency_survives_a_png():
    cleaned = clean_upload(_encoded("PNG", mode="RGBA"), UploadLimits())
    assert PILImage.open(io.BytesIO(cleaned.data)).mode == "RGBA"


@pytest.mark.parametrize(
    ("data", "limits", "message"),
    [
        (b"", UploadLimits(), "empty"),
        (b"plain text named .png" * 10, UploadLimits(), "not a PNG, JPEG or WebP"),
        (_encoded("GIF"), UploadLimits(), "not a PNG, JPEG or WebP"),
        (_encoded("BMP"), UploadLimits(), "not a PNG, JPEG or WebP"),
        (_encoded("PNG")[:60], UploadLimits(), "damaged"),
        (_encoded("PNG", size=(300, 300)), UploadLimits(max_pixels=200 * 200), "limit is 40,000"),
        (_encoded("PNG", size=(20_000, 20_000), mode="1"), UploadLimits(), "too many pixels"),
        (_encoded("PNG"), UploadLimits(max_bytes=50), "limit is"),
    ],
    ids=["empty", "text", "gif", "bmp", "truncated", "over-pixel-limit", "bomb", "over-size"],
)
def test_bad_files_are_refused_with_a_message(data, limits, message):
    with pytest.raises(UploadRefused, match=message):
        clean_upload(data, limits)


@pytest.mark.parametrize(
    ("filename", "name"),
    [("../../etc/passwd.png", "passwd.png"), ("C:\\Users\\me\\cat.jpg", "cat.jpg"),
     ("\x00\x1b[31mred.png", "[31mred.png"), ("", "upload")],
)  # fmt: skip
def test_the_name_shown_is_the_files_own_without_folders_or_controls(filename, name):
    assert upload_name(filename) == name


async def test_an_upload_is_an_image_of_its_owner_and_counts_against_their_limit(
    store, catalog, engine
):
    pipeline = small_pipeline(store, catalog)
    meter = UsageMeter(engine, "upload", per_owner_per_hour=2, anonymous_per_hour=2)
    uploads = Uploads(pipeline, meter, UploadLimits())
    image = await uploads.accept("user:alice", "beach.jpg", _encoded("JPEG", exif=_exif()))
    assert (image.kind, image.owner, image.prompt) == ("upload", "user:alice", "beach.jpg")
    assert b"SecretCam" not in await store.read(image.blob_name)
    await uploads.accept("user:alice", "two.png", _encoded("PNG"))
    before = [blob.name async for blob in store.list_blobs()]
    with pytest.raises(LimitReached, match="2 uploads per hour"):
        await uploads.accept("user:alice", "three.png", _encoded("PNG"))
    assert await catalog.count() == 2
    assert [blob.name async for blob in store.list_blobs()] == before
