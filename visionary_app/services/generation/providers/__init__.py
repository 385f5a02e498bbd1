"""Image providers: who turns a prompt into image bytes."""

from visionary_app.services.generation.providers.base import (
    GeneratedImage,
    ImageProvider,
    ProviderError,
)
from visionary_app.services.generation.providers.offline import OfflineProvider

__all__ = ["GeneratedImage", "ImageProvider", "OfflineProvider", "ProviderError"]
