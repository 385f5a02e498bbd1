"""Content credentials (C2PA): who signed an image, what made it, and whether it validates.

Read with the maintained `c2pa-python` library, offline: a manifest stored elsewhere (a
remote manifest) is never fetched. OpenAI and Azure OpenAI sign their images, and the app keeps
every original byte for byte, so a download still verifies; what the manifest said is kept
with the image (for an upload, before its metadata is stripped).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass

__all__ = ["ContentCredentials", "read_credentials"]

logger = logging.getLogger(__name__)

# No network: a remote manifest is not fetched, and no timestamp or OCSP service is asked.
_OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_context = None


@dataclass(frozen=True)
class ContentCredentials:
    """What an image's active C2PA manifest says, as the lightbox shows it."""

    signer: str  # the signing certificate's subject: common name and organisation
    generator: str  # the claim generator (name and version)
    state: str  # "Valid", "Trusted" or "Invalid", as the C2PA validation says
    created_by_ai: bool  # a c2pa.created action with an AI digital source type
    from_upload: bool = False  # read from an uploaded file, whose manifest was then stripped

    def to_json(self) -> str:
        """Compact JSON, for the index and the blob's metadata."""
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str | None) -> ContentCredentials | None:
        """`to_json`'s form back (None for none, or for text that is not it)."""
        if not text:
            return None
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None


def _offline_context():
    global _context
    if _context is None:
        import c2pa

        _context = c2pa.Context.from_dict(_OFFLINE)
    return _context


def _signer(signature: dict) -> str:
    name = signature.get("common_name") or ""
    issuer = signature.get("issuer") or ""
    if name and issuer and issuer not in name:
        return f"{name} ({issuer})"
    return name or issuer or "unknown signer"


def _generator(manifest: dict) -> str:
    for info in manifest.get("claim_generator_info") or []:
        name = str(info.get("name") or "").strip()
        if name:
            version = str(info.get("version") or "").strip()
            return f"{name} {version}".strip()
    return str(manifest.get("claim_generator") or "unknown")


def _made_by_ai(manifest: dict) -> bool:
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            source = str(action.get("digitalSourceType") or "")
            if action.get("action") == "c2pa.created" and "trainedAlgorithmicMedia" in source:
                return True
    return False


def read_credentials(
    data: bytes, content_type: str | None, *, from_upload: bool = False
) -> ContentCredentials | None:
    """The credentials of an image's bytes; None when it carries no manifest.

    `content_type` None lets the library tell the format from the bytes. Blocking (native
    code): call it in a worker thread.
    """
    import c2pa

    try:
        reader = c2pa.Reader(content_type, io.BytesIO(data), context=_offline_context())
    except c2pa.C2paError as exc:
        if "ManifestNotFound" not in type(exc).__name__ and "not found" not in str(exc).lower():
            logger.info("no readable content credentials: %s", exc)
        return None
    try:
        manifest = reader.get_active_manifest()
        if not manifest:
            return None
        return ContentCredentials(
            signer=_signer(manifest.get("signature_info") or {}),
            generator=_generator(manifest),
            state=reader.get_validation_state() or "Invalid",
            created_by_ai=_made_by_ai(manifest),
            from_upload=from_upload,
        )
    finally:
        reader.close()
