"""Users' sessions: end every browser session of a user (yourself, or anyone if you are admin)."""

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from visionary_app.api.v1.auth import CurrentStudio, Deleter
from visionary_app.api.v1.errors import Problem, answers, unavailable
from visionary_app.services.access import SessionsUnavailable

__all__ = ["router"]

router = APIRouter()


class SessionsEnded(BaseModel):
    """How many sessions were open and are now ended."""

    ended: int = Field(description="Every browser signed in as the user is signed out.")


@router.delete(
    "/users/{name}/sessions",
    response_model=SessionsEnded,
    responses=answers(401, 403, 404, 503),
    summary="Sign a user out of every browser (your own name, or any as an admin)",
)
async def end_sessions(
    holder: Deleter,
    studio: CurrentStudio,
    name: str = Path(max_length=128, pattern=r"^[^\s]+$"),
):
    principal = f"user:{name.strip().lower()}"
    if principal != holder.owner and not holder.viewer.admin:
        raise Problem(403, "Only an admin may end another user's sessions.")
    if studio.sessions is None:
        raise Problem(404, "Sessions are not kept here.")
    try:
        ended = await studio.sessions.end_all(principal)
    except SessionsUnavailable as exc:
        raise unavailable("Sessions cannot be ended right now; try again.") from exc
    return SessionsEnded(ended=ended)
