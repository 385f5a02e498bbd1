"""Content credentials (C2PA): read offline, kept byte for byte, remembered through sync."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import ANYONE, small_pipeline
from tests.support.content_credentials import SIGNER_NAME, sign_image
from visionary_app.models import ImageKind
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.gallery.credentials import ContentCredentials, read_credentials
from visionary_app.services.gallery.mirror import reconcile
from visionary_app.services.generation.pipeline import Recipe
from visionary_app.services.generation.providers.base import (
    GeneratedImage,
    ImageOptions,
    ProviderAnswer,
)
from visionary_app.services.generation.providers.offline import OfflineProvider, render_png
from visionary_app.services.generation.uploads import UploadLimits, Uploads
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.limits.usage import UsageMeter


class SigningProvider(OfflineProvider):
    """The offline provider, whose images carry content credentials (as OpenAI's do)."""

    async def generate(self, prompt, options, **kwargs) -> ProviderAnswer:
        answer = await super().generate(prompt, options, **kwargs)
        self.sent = [sign_image(image.data) for image in answer]
        signed = [GeneratedImage(data, image.content_type, image.width, image.height)
                  for data, image in zip(self.sent, answer, strict=True)]  # fmt: skip
        return ProviderAnswer(signed, answer.usage)


def test_reading_a_signed_a_tampered_and_a_plain_image():
    signed = sign_image(render_png("a fox", 64, 64))
    credentials = read_credentials(signed, "image/png")
    assert credentials is not None and SIGNER_NAME in credentials.signer
    assert (credentials.state, credentials.created_by_ai) == ("Valid", True)
    assert credentials.generator == "Fake Image Model 1.0"
    assert ContentCredentials.from_json(credentials.to_json()) == credentials
    tampered = bytearray(signed)
    tampered[-30] ^= 1
    assert read_credentials(bytes(tampered), "image/png").state == "Invalid"
    assert read_credentials(render_png("a fox", 64, 64), "image/png") is None
    assert read_credentials(b"not an image at all", None) is None


async def test_a_signed_image_is_kept_byte_for_byte_and_sync_keeps_its_credentials(
    blob_store, tmp_path
):
    url = f"sqlite:///{tmp_path / 'index.db'}"
    upgrade_to_head(url)
    catalog = Catalog(make_index_engine(url))
    provider = SigningProvider(partial_images=0)
    pipeline = small_pipeline(blob_store, catalog, provider)
    batch = await pipeline.make(
        Recipe(ImageKind.GENERATED, "a lighthouse", ImageOptions(size="256x256")), owner="u:a"
    )
    (image,) = batch.kept
    stored = await blob_store.read(image.blob_name)
    assert stored == provider.sent[0]  # the original, so the credentials still verify
    assert read_credentials(stored, "image/png").state == "Valid"
    assert ContentCredentials.from_json(image.credentials).signer.startswith(SIGNER_NAME)

    rebuilt_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    upgrade_to_head(rebuilt_url)
    rebuilt = Catalog(make_index_engine(rebuilt_url))
    await reconcile(blob_store, rebuilt, grace=timedelta(0))
    (again,) = await rebuilt.newest(10, viewer=ANYONE)
    assert again.credentials == image.credentials


async def test_an_upload_records_its_credentials_before_they_are_stripped(store, catalog, engine):
    uploads = Uploads(
        small_pipeline(store, catalog),
        UsageMeter(engine, "upload", per_owner_per_hour=0, anonymous_per_hour=0),
        UploadLimits(),
    )
    image = await uploads.accept("user:alice", "signed.png", sign_image(render_png("x", 64, 64)))
    credentials = ContentCredentials.from_json(image.credentials)
    assert credentials.from_upload and SIGNER_NAME in credentials.signer
    assert read_credentials(await store.read(image.blob_name), "image/png") is None  # cleaned
