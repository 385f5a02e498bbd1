"""Models: what may be chosen for a job, and what each accepts."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from visionary_app.api.v1.auth import CurrentStudio, Reader
from visionary_app.api.v1.errors import answers

__all__ = ["router"]

router = APIRouter()


class ModelOut(BaseModel):
    """One model of the menu: pass its `id` as `model` to /generations or /edits."""

    id: str = Field(examples=["openai/gpt-image-2"])
    label: str = Field(examples=["OpenAI · gpt-image-2"])
    provider: str
    model: str
    default: bool = Field(description="Used when a request names no model.")
    size_label: str = Field(description='What `size` means for it: "Size" or "Aspect ratio".')
    sizes: list[str]
    custom_sizes: bool = Field(description="Takes any WIDTHxHEIGHT within OpenAI's rules.")
    quality_label: str
    qualities: list[str]
    styles: list[str]
    backgrounds: list[str]
    max_n: int
    edits: bool
    mask: str = Field(description='"exact", or "as_image": sent as a picture with words.')
    max_input_images: int
    streaming: bool = Field(description="Streams partial images while one forms.")


class ModelList(BaseModel):
    """Every model this studio offers, the default first."""

    models: list[ModelOut]


@router.get(
    "/models",
    response_model=ModelList,
    responses=answers(401, 403, 503),
    summary="List the models a job may use",
)
async def list_models(_holder: Reader, studio: CurrentStudio):
    menu = studio.pipeline.models
    return ModelList(
        models=[
            ModelOut(
                id=choice.key,
                label=choice.label,
                provider=choice.provider.name,
                model=choice.model,
                default=choice is menu.default,
                size_label=choice.capabilities.size_label,
                sizes=list(choice.capabilities.sizes),
                custom_sizes=choice.capabilities.custom_sizes,
                quality_label=choice.capabilities.quality_label,
                qualities=list(choice.capabilities.qualities),
                styles=list(choice.capabilities.styles),
                backgrounds=list(choice.capabilities.backgrounds),
                max_n=choice.capabilities.max_n,
                edits=choice.capabilities.edits,
                mask=choice.capabilities.mask,
                max_input_images=choice.capabilities.max_input_images,
                streaming=choice.capabilities.streaming,
            )
            for choice in menu
        ]
    )
