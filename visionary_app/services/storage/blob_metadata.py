"""What each image blob carries so the index can be rebuilt from the store alone.

Blob metadata values must be ASCII and Azure caps names plus values at 8 KiB per blob, so text is
base64url-encoded, and prompts too long for that budget go to a small JSON "text" blob next to
the image instead. What people did with an image (the boards it is in, who starred it) goes
with it too, so that rebuilding the index brings that back as well; where so many starred it
that it would not fit, it moves to the text blob with the prompt.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from visionary_app.models import LEGACY_OWNER, Image, ImageKind, Visibility, split_ids

__all__ = [
    "METADATA_BUDGET_BYTES",
    "EncodedImage",
    "Library",
    "MetadataError",
    "decode_image",
    "decode_library",
    "encode_image",
    "has_text_blob",
]

# Azure allows 8 KiB of metadata names and values together; leave room for what Azure adds.
METADATA_BUDGET_BYTES = 7 * 1024
FORMAT_VERSION = "1"


class MetadataError(ValueError):
    """Blob metadata is missing, damaged, or from an unknown format."""


@dataclass(frozen=True)
class EncodedImage:
    """Metadata for the image blob, and the text blob's bytes when the prompt did not fit."""

    metadata: dict[str, str]
    text_blob: bytes | None


@dataclass(frozen=True)
class Library:
    """What people did with an image: the boards it is in, and who starred it."""

    boards: tuple[uuid.UUID, ...] = ()
    starred_by: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        """Whether there is anything to keep."""
        return bool(self.boards or self.starred_by)

    def as_metadata(self) -> dict[str, str]:
        """Its blob metadata entries (none for an empty library)."""
        entries = {}
        if self.boards:
            entries["boards"] = " ".join(sorted(board.hex for board in self.boards))
        if self.starred_by:
            entries["stars_b64"] = _b64("\n".join(sorted(self.starred_by)))
        return entries

    def as_json(self) -> dict:
        """Its entries in the text blob."""
        return {
            "boards": sorted(board.hex for board in self.boards),
            "starred_by": sorted(self.starred_by),
        }


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def _unb64(value: str) -> str:
    try:
        raw = base64.b64decode(value.encode("ascii"), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        msg = "text field is not valid base64url UTF-8"
        raise MetadataError(msg) from exc


def _size(metadata: dict[str, str]) -> int:
    return sum(len(key) + len(value) for key, value in metadata.items())


def encode_image(image: Image, library: Library | None = None) -> EncodedImage:
    """Encode everything the index holds about `image` (except what the blob itself tells).

    `library`: its boards and stars, kept with it (a new image has none).
    """
    library = library or Library()
    metadata = {
        "format": FORMAT_VERSION,
        "image_id": str(image.id),
        "created_at": image.created_at.astimezone(UTC).isoformat(),
        "provider_b64": _b64(image.provider),
        "model_b64": _b64(image.model),
        "width": str(image.width),
        "height": str(image.height),
        "owner_b64": _b64(image.owner),
        "visibility": image.visibility,
        "kind": image.kind,
    }
    if image.source_id is not None:
        metadata["source_id"] = image.source_id.hex
    if image.reference_ids:
        metadata["reference_ids"] = image.reference_ids  # hex ids and spaces: ASCII
    for option in ("quality", "style"):
        value = getattr(image, option)
        if value is not None:
            metadata[option] = value  # from the capability table: short ASCII words
    if image.credentials:
        metadata["credentials_b64"] = _b64(image.credentials)
    if image.preset:
        metadata["preset_b64"] = _b64(image.preset)
    text = {"prompt_b64": _b64(image.prompt)}
    if image.revised_prompt is not None:
        text["revised_prompt_b64"] = _b64(image.revised_prompt)
    kept = library.as_metadata()
    if _size(metadata) + _size(text) + _size(kept) <= METADATA_BUDGET_BYTES:
        return EncodedImage(metadata={**metadata, **text, **kept}, text_blob=None)
    body: dict = {"prompt": image.prompt, "revised_prompt": image.revised_prompt}
    if _size(metadata) + _size(kept) + len("text") + len("blob") <= METADATA_BUDGET_BYTES:
        metadata.update(kept)
    else:
        body["library"] = library.as_json()
    return EncodedImage(
        metadata={**metadata, "text": "blob"},
        text_blob=json.dumps(body, ensure_ascii=False).encode("utf-8"),
    )


def decode_library(metadata: dict[str, str], text_blob: bytes | None = None) -> Library:
    """The boards and stars kept with an image blob; an empty library where none are readable."""
    metadata = {key.lower(): value for key, value in metadata.items()}
    try:
        if text_blob is not None and has_text_blob(metadata):
            kept = json.loads(text_blob.decode("utf-8")).get("library")
            if kept is not None:
                return Library(
                    boards=tuple(uuid.UUID(hex=board) for board in kept.get("boards", [])),
                    starred_by=tuple(str(owner) for owner in kept.get("starred_by", [])),
                )
        stars = _unb64(metadata["stars_b64"]).split("\n") if "stars_b64" in metadata else []
        return Library(
            boards=tuple(split_ids(metadata.get("boards"))),
            starred_by=tuple(owner for owner in stars if owner),
        )
    except (ValueError, TypeError, AttributeError, UnicodeError):
        return Library()


def has_text_blob(metadata: dict[str, str]) -> bool:
    """Whether the prompt of this image lives in a separate text blob (keys in any case)."""
    return any(key.lower() == "text" and value == "blob" for key, value in metadata.items())


def decode_image(
    blob_name: str,
    metadata: dict[str, str],
    *,
    byte_size: int,
    content_type: str,
    text_blob: bytes | None = None,
) -> Image:
    """Rebuild the index row of an image blob from its metadata (and text blob, if any)."""
    metadata = {key.lower(): value for key, value in metadata.items()}
    if metadata.get("format") != FORMAT_VERSION:
        msg = f"unknown metadata format {metadata.get('format')!r}"
        raise MetadataError(msg)
    try:
        if has_text_blob(metadata):
            if text_blob is None:
                msg = "the prompt's text blob is missing"
                raise MetadataError(msg)
            body = json.loads(text_blob.decode("utf-8"))
            prompt, revised = body["prompt"], body.get("revised_prompt")
        else:
            prompt = _unb64(metadata["prompt_b64"])
            revised = (
                _unb64(metadata["revised_prompt_b64"]) if "revised_prompt_b64" in metadata else None
            )
        created_at = datetime.fromisoformat(metadata["created_at"])
        return Image(
            id=uuid.UUID(metadata["image_id"]),
            blob_name=blob_name,
            prompt=prompt,
            created_at=created_at.astimezone(UTC),
            provider=_unb64(metadata["provider_b64"]),
            # An upload has no model; Azure drops empty values, so it may be absent.
            model=_unb64(metadata.get("model_b64") or ""),
            width=int(metadata["width"]),
            height=int(metadata["height"]),
            content_type=content_type,
            byte_size=byte_size,
            revised_prompt=revised,
            quality=metadata.get("quality"),
            style=metadata.get("style"),
            # Blobs stored before owners existed have neither: legacy and shared, as they were.
            owner=_unb64(metadata["owner_b64"]) if "owner_b64" in metadata else LEGACY_OWNER,
            visibility=Visibility(metadata.get("visibility", Visibility.SHARED)).value,
            # Blobs stored before lineage existed were all generated.
            kind=ImageKind(metadata.get("kind", ImageKind.GENERATED)).value,
            source_id=uuid.UUID(hex=metadata["source_id"]) if "source_id" in metadata else None,
            reference_ids=" ".join(i.hex for i in split_ids(metadata.get("reference_ids"))),
            credentials=(
                _unb64(metadata["credentials_b64"]) if "credentials_b64" in metadata else None
            ),
            preset=_unb64(metadata["preset_b64"]) if "preset_b64" in metadata else None,
        )
    except (KeyError, ValueError, TypeError, UnicodeError) as exc:
        if isinstance(exc, MetadataError):
            raise
        msg = f"metadata of {blob_name} cannot be decoded: {exc.__class__.__name__}: {exc}"
        raise MetadataError(msg) from exc
