"""A person's own pictures: checked by decoding them, cleaned of metadata, then kept as uploads.

Nothing about a file is trusted: not its name, not its extension, not the type the browser
claims. It is decoded with Pillow (PNG, JPEG or WebP only), held to a size and pixel limit
before its pixels are read (so a small file that unpacks to gigapixels is refused cheaply),
turned upright by its EXIF orientation, and re-encoded from its pixels alone, so EXIF,
location, comments and every other chunk are left behind.
"""

from __future__ import annotations

import asyncio
import io
import unicodedata
import warnings
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from visionary_app.models import Image
from visionary_app.services.gallery.credentials import read_credentials
from visionary_app.services.generation.pipeline import GenerationPipeline
from visionary_app.services.generation.providers.base import GeneratedImage
from visionary_app.services.limits.usage import UsageMeter
from visionary_app.services.storage.content_types import content_type_for_pillow

__all__ = ["UploadLimits", "UploadRefused", "Uploads", "clean_upload", "upload_name"]

_FORMATS = ("PNG", "JPEG", "WEBP")
_NAME_CHARS = 120


class UploadRefused(Exception):
    """The file cannot be kept; the message says why, for the user. Nothing was stored."""


@dataclass(frozen=True)
class UploadLimits:
    """The largest file and picture accepted."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 16_588_800


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def upload_name(filename: str) -> str:
    """What the gallery calls an upload: the file's own name, without folders or controls."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return cleaned[:_NAME_CHARS] or "upload"


def clean_upload(data: bytes, limits: UploadLimits) -> GeneratedImage:
    """The picture re-encoded without metadata, or UploadRefused saying why."""
    if not data:
        raise UploadRefused("The file is empty.")
    if len(data) > limits.max_bytes:
        raise UploadRefused(
            f"The file is {_megabytes(len(data))}; the limit is {_megabytes(limits.max_bytes)}."
        )
    not_an_image = UploadRefused(
        "That file is not a PNG, JPEG or WebP picture (whatever its name says)."
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            picture = PILImage.open(io.BytesIO(data), formats=_FORMATS)
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise UploadRefused("The picture has far too many pixels.") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise not_an_image from None
    with picture:
        width, height = picture.size
        if width * height > limits.max_pixels:
            raise UploadRefused(
                f"The picture is {width}x{height} ({width * height:,} pixels); the limit is "
                f"{limits.max_pixels:,} pixels."
            )
        file_format = picture.format
        try:
            picture.seek(0)  # an animation keeps its first frame
            upright = ImageOps.exif_transpose(picture)
            upright.load()
        except (OSError, ValueError, SyntaxError):
            raise UploadRefused("The picture is damaged or cut short.") from None
        icc_profile = picture.info.get("icc_profile")
    return _encode(upright, file_format, icc_profile)


def _encode(picture: PILImage.Image, file_format: str, icc_profile: bytes | None) -> GeneratedImage:
    """Pixels (and the colour profile) only, in the format the picture came in."""
    if file_format == "JPEG":
        picture = picture.convert("RGB")
        options = {"quality": 95}
    elif file_format == "WEBP":
        picture = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
        options = {"quality": 95}
    else:
        has_alpha = "A" in picture.getbands() or "transparency" in picture.info
        picture = picture.convert("RGBA" if has_alpha else "RGB")
        options = {"compress_level": 6}
    # Pillow writes what the decoder read back out (a JPEG's comment, XMP) unless told not to.
    picture.info = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    buffer = io.BytesIO()
    picture.save(buffer, format=file_format, **options)
    content_type = content_type_for_pillow(file_format)
    assert content_type is not None  # one of _FORMATS
    return GeneratedImage(
        data=buffer.getvalue(),
        content_type=content_type,
        width=picture.width,
        height=picture.height,
    )


class Uploads:
    """Takes a person's files into the gallery as uploads they own, within their limits."""

    def __init__(
        self, pipeline: GenerationPipeline, meter: UsageMeter, limits: UploadLimits
    ) -> None:
        self.pipeline = pipeline
        self.meter = meter
        self.limits = limits

    async def accept(self, owner: str, filename: str, data: bytes) -> Image:
        """Check, clean, count, store and index one file.

        Raises UploadRefused (a bad file), LimitReached, QueueUnavailable (the count could not
        be kept) or GenerationFailed (storage); nothing is stored in any of those cases.
        """
        cleaned = await asyncio.to_thread(clean_upload, data, self.limits)
        # What the file's content credentials said, before cleaning strips them.
        credentials = await asyncio.to_thread(read_credentials, data, None, from_upload=True)
        await self.meter.take(owner, "uploads")
        return await self.pipeline.keep_upload(owner, upload_name(filename), cleaned, credentials)
