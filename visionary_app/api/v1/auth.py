"""Who a request acts as: the bearer token's owner within its scopes, and what they may see."""

import logging
import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from visionary_app.api.v1.errors import INDEX_DOWN, Problem, unavailable
from visionary_app.models import Image
from visionary_app.services.access import TokenHolder, TokensUnavailable
from visionary_app.services.gallery import CatalogError
from visionary_app.services.studio import Studio

__all__ = [
    "CurrentStudio",
    "Deleter",
    "Generator",
    "Reader",
    "current_studio",
    "holder_for",
    "visible_image",
]

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="A personal API token (made in the page).")


def current_studio(request: Request) -> Studio:
    """The studio the API app was built on (`build_api` keeps its getter in the app's state)."""
    return request.app.state.get_studio()


CurrentStudio = Annotated[Studio, Depends(current_studio)]


async def holder_for(studio: Studio, token: str | None, scope: str) -> TokenHolder:
    """Who the token acts as, if it may do `scope`; else the 401 or 403 Problem."""
    challenge = {"WWW-Authenticate": 'Bearer realm="visionary"'}
    if not token:
        raise Problem(
            401,
            "An API token is required: send `Authorization: Bearer <token>`.",
            headers=challenge,
        )
    try:
        holder = await studio.api_tokens.authenticate(token)
    except TokensUnavailable as exc:
        logger.error("checking an API token failed: %s", exc)
        raise unavailable(
            "Tokens cannot be checked right now (the database did not answer)."
        ) from exc
    if holder is None:
        raise Problem(
            401, "The token is not valid: unknown, revoked, or the API is off.", headers=challenge
        )
    if scope not in holder.scopes:
        raise Problem(403, f"This token does not have the {scope!r} scope.")
    return holder


def _requires(scope: str):
    async def dependency(
        studio: CurrentStudio,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenHolder:
        token = credentials.credentials if credentials is not None else None
        return await holder_for(studio, token, scope)

    return dependency


Reader = Annotated[TokenHolder, Depends(_requires("read"))]
Generator = Annotated[TokenHolder, Depends(_requires("generate"))]
Deleter = Annotated[TokenHolder, Depends(_requires("delete"))]


async def visible_image(studio: Studio, holder: TokenHolder, image_id: uuid.UUID) -> Image:
    """The image if the holder may see it; else a 404 that does not say whether it exists."""
    try:
        image = await studio.catalog.get_for(holder.viewer, image_id)
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    if image is None:
        raise Problem(404, "No such image (or it is not yours to see).")
    return image
