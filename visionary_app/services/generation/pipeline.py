"""The generation pipeline: validate the prompt, generate, store the blob, then index it."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from visionary_app.models import (
    LEGACY_OWNER,
    Image,
    ImageKind,
    Visibility,
    join_ids,
    planned_image_id,
)
from visionary_app.services.gallery.catalog import Catalog, CatalogError
from visionary_app.services.gallery.credentials import ContentCredentials, read_credentials
from visionary_app.services.gallery.curation import DeleteFailed, delete_image
from visionary_app.services.gallery.thumbnails import make_thumbnail
from visionary_app.services.generation.model_menu import ModelChoice, ModelMenu, UnknownModel
from visionary_app.services.generation.presets import Preset, styled
from visionary_app.services.generation.providers import ImageProvider, ProviderError
from visionary_app.services.generation.providers.base import (
    GeneratedImage,
    ImageOptions,
    InputImage,
    OnPartial,
    OnProgress,
    ProviderUsage,
)
from visionary_app.services.generation.providers.capabilities import ModelCapabilities, size_problem
from visionary_app.services.kit.metrics import PROVIDER_ERRORS, PROVIDER_SECONDS
from visionary_app.services.storage.blob_metadata import encode_image
from visionary_app.services.storage.blob_names import (
    companion_blob_names,
    make_blob_name,
    text_blob_name,
    thumbnail_blob_name,
)
from visionary_app.services.storage.blob_store import BlobStore, StorageError
from visionary_app.services.storage.content_types import TEXT_CONTENT_TYPE, THUMBNAIL_CONTENT_TYPE

__all__ = [
    "VARIATION_PROMPT",
    "Batch",
    "GenerationFailed",
    "GenerationPipeline",
    "InvalidOptions",
    "InvalidPrompt",
    "Recipe",
    "options_for_source",
    "validate_prompt",
]

logger = logging.getLogger(__name__)

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}
# What a variation of an upload (which has no prompt) asks for.
VARIATION_PROMPT = "A new picture in the spirit of this one: same subject, mood and palette."


class GenerationFailed(Exception):
    """Generation did not produce a stored, indexed image; the message is for the user.

    `usage` is what a provider call that was made used, if the provider said.
    """

    usage: ProviderUsage | None = None
    called: bool = False  # whether the provider was called (it is paid for then)


class InvalidPrompt(GenerationFailed):
    """The prompt cannot be used as typed."""


class InvalidOptions(GenerationFailed):
    """The chosen size, quality, style or count is not one the model supports."""


def validate_options(options: ImageOptions, capabilities: ModelCapabilities, model: str) -> None:
    """Raise InvalidOptions unless every option is one the model's capabilities list."""
    if not 1 <= options.n <= capabilities.max_n:
        raise InvalidOptions(f"{model} makes 1 to {capabilities.max_n} images at a time.")
    if options.size not in capabilities.sizes:
        problem = size_problem(options.size) if capabilities.custom_sizes else None
        if not capabilities.custom_sizes:
            raise InvalidOptions(f"{model} does not offer the size {options.size}.")
        if problem:
            raise InvalidOptions(f"{model} cannot make {options.size}: {problem}")
    if options.quality is not None and options.quality not in capabilities.qualities:
        raise InvalidOptions(f"{model} does not offer the quality {options.quality!r}.")
    if options.style is not None and options.style not in capabilities.styles:
        raise InvalidOptions(f"{model} does not offer the style {options.style!r}.")
    if options.background is not None and options.background not in capabilities.backgrounds:
        raise InvalidOptions(f"{model} does not offer the background {options.background!r}.")
    if options.complexity is not None and options.complexity not in capabilities.complexities:
        raise InvalidOptions(f"{model} does not offer the complexity {options.complexity!r}.")


def options_for_source(
    image: Image, options: ImageOptions, capabilities: ModelCapabilities
) -> ImageOptions:
    """Options for one edit or variation of `image`: its own size where the model makes it.

    Otherwise "auto" where the model has it (the provider keeps the input's shape), else the
    options' size.
    """
    own = f"{image.width}x{image.height}"
    if own in capabilities.sizes or (capabilities.custom_sizes and size_problem(own) is None):
        size = own
    elif "auto" in capabilities.sizes:
        size = "auto"
    else:
        size = options.size
    return dataclasses.replace(options, size=size, n=1)


def validate_prompt(raw: str, max_length: int) -> str:
    """Return the prompt trimmed of surrounding whitespace, or raise InvalidPrompt saying why.

    Everything else is kept exactly as typed (emoji, any script, HTML, path characters), so the
    stored prompt round-trips byte for byte.
    """
    prompt = (raw or "").strip()
    if not prompt:
        raise InvalidPrompt("Type a prompt first: it is empty.")
    if len(prompt) > max_length:
        excess = len(prompt) - max_length
        raise InvalidPrompt(
            f"The prompt is too long: {len(prompt):,} characters, the limit is {max_length:,}. "
            f"Shorten it by {excess:,} character{'s' if excess != 1 else ''}."
        )
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPrompt("The prompt contains broken Unicode (a lone surrogate).") from None
    for char in prompt:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            raise InvalidPrompt(
                f"The prompt contains an invisible control character (U+{ord(char):04X}); "
                "remove it and try again."
            )
    return prompt


@dataclass(frozen=True)
class Recipe:
    """What one job makes: a kind of image, from a prompt, options and source images.

    `sources` are the images it is made from, the one edited (or varied) first; `mask` is an
    edit's PNG, the size of the first source, transparent where to change it.
    """

    kind: ImageKind
    prompt: str
    options: ImageOptions
    sources: tuple[Image, ...] = ()
    mask: bytes | None = None
    # The job it belongs to: its images' ids follow from it (`planned_image_id`), so whoever
    # fails a job whose worker died can find what that worker may have stored.
    job_id: uuid.UUID | None = None
    # A style preset: its words go to the provider after the prompt; the image keeps its name.
    preset: Preset | None = None


@dataclass(frozen=True)
class Batch:
    """What one provider call became: per image, its indexed row or why it was not kept."""

    results: list[Image | GenerationFailed]
    provider_seconds: float  # the provider's own time, for the job's timings
    usage: ProviderUsage = field(default_factory=ProviderUsage)  # what the call used

    @property
    def kept(self) -> list[Image]:
        """The images stored and indexed."""
        return [r for r in self.results if isinstance(r, Image)]

    @property
    def failures(self) -> list[GenerationFailed]:
        """Why the others were not kept."""
        return [r for r in self.results if isinstance(r, GenerationFailed)]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class GenerationPipeline:
    """Prompt in, stored and indexed `Image` out; nothing is reported as done unless it is."""

    def __init__(
        self,
        models: ModelMenu | ImageProvider,
        store: BlobStore,
        catalog: Catalog,
        *,
        max_prompt_length: int,
        default_size: str | None = None,
        thumbnail_size: int = 512,
        cleanup_timeout_s: float = 5.0,
        clock: Callable[[], datetime] = _utcnow,
        default_visibility: Visibility = Visibility.SHARED,
        identity_key: bytes = b"",
    ) -> None:
        # One provider is a menu of one (tests, tools).
        self.models = models if isinstance(models, ModelMenu) else ModelMenu([models])
        self.store = store
        self.catalog = catalog
        self.max_prompt_length = max_prompt_length
        self.default_size = default_size
        self.thumbnail_size = thumbnail_size
        self.cleanup_timeout_s = cleanup_timeout_s
        self._clock = clock
        self.default_visibility = default_visibility
        self._identity_key = identity_key

    def safety_identifier(self, owner: str) -> str:
        """A stable, opaque id of an owner for the provider: a keyed hash, never the name."""
        return hmac.new(self._identity_key, owner.encode(), hashlib.sha256).hexdigest()[:32]

    def choice(self, options: ImageOptions) -> ModelChoice:
        """The model `options` name (the default when none), or InvalidOptions saying why not."""
        try:
            return self.models.get(options.model)
        except UnknownModel as exc:
            raise InvalidOptions(str(exc)) from exc

    def prompt_limit(self, model: str | None = None) -> int:
        """The longest prompt the app and the model both take."""
        choice = self.models.find(model) or self.models.default
        return min(self.max_prompt_length, choice.capabilities.max_prompt_length)

    def validate(self, raw_prompt: str, model: str | None = None) -> str:
        """The prompt as it will be used on `model` (the default when None), or InvalidPrompt."""
        return validate_prompt(raw_prompt, self.prompt_limit(model))

    def check_options(self, options: ImageOptions) -> None:
        """Raise InvalidOptions unless the chosen model offers every option chosen."""
        choice = self.choice(options)
        validate_options(options, choice.capabilities, choice.model)

    def default_options(self, model: str | None = None) -> ImageOptions:
        """One image at the configured size (if the model offers it), default quality/style."""
        choice = self.models.find(model) or self.models.default
        caps = choice.capabilities
        size = self.default_size if self.default_size in caps.sizes else caps.default_size
        return ImageOptions(
            size=size,
            quality=caps.default_quality,
            style=caps.default_style,
            model=choice.key if model else None,
        )

    async def generate(
        self, raw_prompt: str, options: ImageOptions | None = None, *, owner: str = LEGACY_OWNER
    ) -> Image:
        """Generate, store and index one image; raises GenerationFailed with a user message."""
        options = options or self.default_options()
        if options.n != 1:
            raise InvalidOptions("generate() makes one image; use generate_batch() for more.")
        (result,) = (await self.generate_batch(raw_prompt, options, owner=owner)).results
        if isinstance(result, GenerationFailed):
            raise result
        return result

    async def generate_batch(
        self,
        raw_prompt: str,
        options: ImageOptions,
        *,
        owner: str,
        on_partial: OnPartial | None = None,
    ) -> Batch:
        """One provider call for `options.n` images from a prompt (see `make`)."""
        recipe = Recipe(ImageKind.GENERATED, raw_prompt, options)
        return await self.make(recipe, owner=owner, on_partial=on_partial)

    async def make(
        self,
        recipe: Recipe,
        *,
        owner: str,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> Batch:
        """One provider call for `recipe.options.n` images; each is stored and indexed on its own.

        The images belong to `owner`, get the app's default visibility and record their
        kind and sources. `on_partial` sees each preview of a streamed image (never stored).

        Raises GenerationFailed when nothing could be made (bad input, provider failure);
        otherwise returns, per image, the indexed row or the reason it was not kept.
        """
        options = recipe.options
        prompt = self.validate(recipe.prompt, options.model)
        sent = self.validate(styled(prompt, recipe.preset), options.model)
        self.check_options(options)
        choice = self.choice(options)
        provider = choice.provider
        inputs = await self._inputs(recipe, choice)
        started = time.perf_counter()
        safety_identifier = self.safety_identifier(owner)
        try:
            if inputs:
                generated = await provider.edit(
                    sent,
                    inputs,
                    options,
                    mask=recipe.mask,
                    safety_identifier=safety_identifier,
                    on_partial=on_partial,
                    on_progress=on_progress,
                )
            else:
                generated = await provider.generate(
                    sent,
                    options,
                    safety_identifier=safety_identifier,
                    on_partial=on_partial,
                    on_progress=on_progress,
                )
        except ProviderError as exc:
            PROVIDER_ERRORS.labels(exc.kind).inc()
            failed = GenerationFailed(str(exc))
            failed.usage, failed.called = exc.usage, True
            raise failed from exc
        provider_seconds = time.perf_counter() - started
        PROVIDER_SECONDS.observe(provider_seconds)
        results: list[Image | GenerationFailed] = []
        try:
            for index, image in enumerate(generated[: options.n]):
                image_id = planned_image_id(recipe.job_id, index) if recipe.job_id else uuid.uuid4()
                try:
                    results.append(
                        await self._keep(prompt, image, options, owner, recipe, image_id, choice)
                    )
                except GenerationFailed as exc:
                    results.append(exc)
                except Exception:
                    # Whatever went wrong with this image (_keep leaves nothing of it), the
                    # ones kept before it stay kept and counted: the gallery and the job agree.
                    logger.exception("keeping an image of a batch failed")
                    results.append(
                        GenerationFailed("The image could not be stored; nothing of it was kept.")
                    )
        except asyncio.CancelledError:
            # Cancelled part-way: a cancelled job keeps nothing, not even its finished images.
            kept = [r for r in results if isinstance(r, Image)]
            await asyncio.shield(asyncio.gather(*(self.discard(r) for r in kept)))
            raise
        usage = getattr(generated, "usage", None) or ProviderUsage(images=len(generated))
        return Batch(results, provider_seconds, usage)

    async def _inputs(self, recipe: Recipe, choice: ModelChoice) -> list[InputImage]:
        """The source images' bytes for an edit or variation; [] for a plain generation.

        A variation is made from its image where the model edits; elsewhere from its prompt.
        """
        if recipe.kind == ImageKind.GENERATED:
            return []
        caps = choice.capabilities
        if not caps.edits:
            if recipe.kind == ImageKind.VARIATION:
                return []
            raise InvalidOptions(f"{choice.model} cannot edit images.")
        if not recipe.sources:
            raise InvalidOptions("An edit needs an image to start from.")
        if recipe.mask is not None and caps.mask == "none":
            raise InvalidOptions(
                f"{choice.model} edits by instruction and takes no mask: clear the painting "
                "and say what should change."
            )
        if len(recipe.sources) > caps.max_input_images:
            raise InvalidOptions(f"{choice.model} takes at most {caps.max_input_images} images.")
        inputs = []
        for source in recipe.sources:
            try:
                data = await self.store.read(source.blob_name)
            except StorageError as exc:
                logger.error("reading source %s failed: %s", source.blob_name, exc)
                raise GenerationFailed(
                    "A source image could not be read from storage; nothing was made. "
                    "Try again in a moment."
                ) from exc
            name = f"image-{len(inputs) + 1}.{source.blob_name.rsplit('.', 1)[-1]}"
            inputs.append(InputImage(data=data, content_type=source.content_type, name=name))
        return inputs

    async def keep_upload(
        self,
        owner: str,
        name: str,
        upload: GeneratedImage,
        credentials: ContentCredentials | None = None,
    ) -> Image:
        """Store and index a person's own (already cleaned) picture as an upload of `owner`.

        `credentials` are what the file's C2PA manifest said before it was cleaned away.
        """
        recipe = Recipe(ImageKind.UPLOAD, name, ImageOptions(size=""))
        return await self._keep(
            name, upload, recipe.options, owner, recipe, uuid.uuid4(), None, credentials
        )

    async def discard(self, record: Image) -> None:
        """Remove a kept image as a delete does (image blob, row, companions); log a failure.

        Used when its job was cancelled after the image was stored. The image blob goes
        first, so at worst the image stays whole in the gallery.
        """
        try:
            await delete_image(self.store, self.catalog, record)
        except DeleteFailed as exc:
            logger.error("could not discard %s of a cancelled job: %s", record.blob_name, exc)

    async def _keep(
        self,
        prompt: str,
        generated: GeneratedImage,
        options: ImageOptions,
        owner: str,
        recipe: Recipe,
        image_id: uuid.UUID,
        choice: ModelChoice | None,
        credentials: ContentCredentials | None = None,
    ) -> Image:
        """Store then index one generated image, or raise GenerationFailed leaving nothing.

        `choice` is the model that made it (None for an upload, whose `credentials` were read
        before it was cleaned). The bytes are stored exactly as the provider sent them, so a
        content credential in them still verifies; what it says is kept with the row.
        """
        if choice is not None:
            credentials = await asyncio.to_thread(
                read_credentials, generated.data, generated.content_type
            )
        created_at = self._clock()
        blob_name = make_blob_name(image_id, created_at, generated.content_type)
        record = Image(
            id=image_id,
            blob_name=blob_name,
            prompt=prompt,
            created_at=created_at,
            provider=choice.provider.name if choice else "upload",
            model=choice.model if choice else "",
            width=generated.width,
            height=generated.height,
            content_type=generated.content_type,
            byte_size=len(generated.data),
            revised_prompt=generated.revised_prompt,
            quality=options.quality,
            style=options.style,
            owner=owner,
            visibility=self.default_visibility.value,
            kind=recipe.kind.value,
            source_id=recipe.sources[0].id if recipe.sources else None,
            reference_ids=join_ids([source.id for source in recipe.sources[1:]]),
            credentials=credentials.to_json() if credentials else None,
            preset=recipe.preset.name if recipe.preset else None,
        )
        try:
            await self._store(record, generated.data)
        except asyncio.CancelledError:
            await asyncio.shield(self._remove_blobs(record.blob_name))  # a put may have landed
            raise
        # The insert runs to completion even if the job is cancelled meanwhile, so that what
        # it left behind is known and can be discarded.
        adding = asyncio.ensure_future(self.catalog.add(record))
        try:
            await asyncio.shield(adding)
        except asyncio.CancelledError:
            await asyncio.shield(self._discard_after(adding, record))
            raise
        except Exception as exc:  # CatalogError, or anything else: the row is there or not
            # A concurrent `sync` may have indexed the blob first; then the row is right.
            if await self._indexed_elsewhere(record):
                return record
            logger.error("indexing %s failed: %s", blob_name, exc)
            await self._remove_blobs(record.blob_name)
            raise GenerationFailed(
                "The image could not be added to the gallery index, so it was discarded. "
                "Please try again."
            ) from exc
        return record

    async def _store(self, record: Image, data: bytes) -> None:
        """Upload the text blob (if needed) and thumbnail, then the image; all or nothing.

        The image goes last, so an image blob in the store always has its companions.
        """
        try:
            thumbnail = await asyncio.to_thread(make_thumbnail, data, self.thumbnail_size)
        except Exception as exc:  # OSError, and Pillow's DecompressionBombError, MemoryError...
            logger.warning("could not read the image for %s: %r", record.blob_name, exc)
            raise GenerationFailed(
                "The provider's image could not be read (damaged, or too many pixels); "
                "nothing was stored."
            ) from exc
        record.thumbnail_blob_name = thumbnail_blob_name(record.blob_name)
        record.thumbnail_width, record.thumbnail_height = thumbnail.width, thumbnail.height
        encoded = encode_image(record)
        try:
            await self.store.put(
                record.thumbnail_blob_name,
                thumbnail.data,
                THUMBNAIL_CONTENT_TYPE,
                {"image_id": str(record.id), "width": str(thumbnail.width),
                 "height": str(thumbnail.height)},
            )  # fmt: skip
            if encoded.text_blob is not None:
                await self.store.put(
                    text_blob_name(record.blob_name),
                    encoded.text_blob,
                    TEXT_CONTENT_TYPE,
                    {"image_id": str(record.id)},
                )
            await self.store.put(record.blob_name, data, record.content_type, encoded.metadata)
        except StorageError as exc:
            logger.error("storing %s failed: %s", record.blob_name, exc)
            await self._remove_blobs(record.blob_name)
            raise GenerationFailed(
                "The image was generated but could not be saved: image storage is unavailable. "
                "Nothing was stored; please try again."
            ) from exc
        except Exception:
            await self._remove_blobs(
                record.blob_name
            )  # an unexpected failure leaves nothing either
            raise

    async def _discard_after(self, adding: asyncio.Future, record: Image) -> None:
        try:
            await adding
        except CatalogError:
            await self._remove_blobs(record.blob_name)
            return
        await self.discard(record)

    async def _indexed_elsewhere(self, record: Image) -> bool:
        try:
            existing = await self.catalog.get(record.id)
        except CatalogError:
            return False
        return existing is not None and existing.blob_name == record.blob_name

    async def discard_leftovers(self, job_id: uuid.UUID, images: int, day: datetime) -> int:
        """Delete what a job's dead worker may have stored without indexing; returns how many.

        A worker killed between uploading an image and indexing it leaves a blob without a
        row. Its images' ids follow from the job (`planned_image_id`) and their names from the
        day it ran, so this looks for exactly those and removes the ones with no row.
        """
        removed = 0
        for index in range(images):
            image_id = planned_image_id(job_id, index)
            if await self.catalog.get(image_id) is not None:
                continue  # indexed: a whole image, kept like any other
            for when in (day, day + timedelta(days=1)):
                for content_type in ("image/png", "image/jpeg", "image/webp"):
                    name = make_blob_name(image_id, when, content_type)
                    stored = (name, *companion_blob_names(name))
                    if any([await self.store.exists(blob) for blob in stored]):
                        await self._remove_blobs(name)
                        removed += 1
        return removed

    async def _remove_blobs(self, blob_name: str) -> None:
        """Delete what may have been uploaded, within a bound so the user hears back in time.

        A put that timed out may still have landed, so the image and both companions are
        deleted even after a failure. If storage is down the deletes fail too; `sync` deals
        with leftovers later.
        """
        names = (blob_name, *companion_blob_names(blob_name))
        results = await asyncio.gather(
            *(asyncio.wait_for(self.store.delete(name), self.cleanup_timeout_s) for name in names),
            return_exceptions=True,
        )
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                logger.error("could not remove orphan blob %s: %r", name, result)
