"""Making images: the job queue, the runner, its job events, the pipeline, the providers."""

from visionary_app.services.generation.job_events import JobEvents, JobNews
from visionary_app.services.generation.masks import (
    MaskRefused,
    Stroke,
    render_mask,
    strokes_from_painter,
)
from visionary_app.services.generation.model_menu import ModelChoice, ModelMenu, UnknownModel
from visionary_app.services.generation.pipeline import (
    GenerationFailed,
    GenerationPipeline,
    options_for_source,
)
from visionary_app.services.generation.presets import (
    BUILT_IN,
    MAX_PRESET_NAME_CHARS,
    MAX_PRESET_WORDS_CHARS,
    Preset,
    PresetRefused,
    Presets,
    PresetsUnavailable,
)
from visionary_app.services.generation.providers import (
    ImageProvider,
    OfflineProvider,
    ProviderError,
)
from visionary_app.services.generation.providers.base import PROVIDER_LABELS, ImageOptions
from visionary_app.services.generation.providers.capabilities import (
    ModelCapabilities,
    ModelRetired,
    retirement_notice,
    size_problem,
)
from visionary_app.services.generation.queue import JobQueue
from visionary_app.services.generation.runner import (
    FINAL_EVENTS,
    QUEUE_UNAVAILABLE,
    Cancelled,
    Failed,
    JobEvent,
    JobRunner,
    PartialImage,
    Queued,
    Running,
    Stored,
)
from visionary_app.services.generation.suggestions import PromptSuggester
from visionary_app.services.generation.uploads import UploadRefused, Uploads

__all__ = [
    "BUILT_IN",
    "FINAL_EVENTS",
    "MAX_PRESET_NAME_CHARS",
    "MAX_PRESET_WORDS_CHARS",
    "PROVIDER_LABELS",
    "QUEUE_UNAVAILABLE",
    "Cancelled",
    "Failed",
    "GenerationFailed",
    "GenerationPipeline",
    "ImageOptions",
    "ImageProvider",
    "JobEvent",
    "JobEvents",
    "JobNews",
    "JobQueue",
    "JobRunner",
    "MaskRefused",
    "ModelCapabilities",
    "ModelChoice",
    "ModelMenu",
    "ModelRetired",
    "OfflineProvider",
    "PartialImage",
    "Preset",
    "PresetRefused",
    "Presets",
    "PresetsUnavailable",
    "PromptSuggester",
    "ProviderError",
    "Queued",
    "Running",
    "Stored",
    "Stroke",
    "UnknownModel",
    "UploadRefused",
    "Uploads",
    "options_for_source",
    "render_mask",
    "retirement_notice",
    "size_problem",
    "strokes_from_painter",
]
