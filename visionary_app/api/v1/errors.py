"""Errors as `application/problem+json` (RFC 9457), in the page's own words, never a stack trace."""

import logging
import math
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from visionary_app.services.limits import LimitReached

__all__ = [
    "INDEX_DOWN",
    "PROBLEM",
    "TITLES",
    "Problem",
    "ProblemDetails",
    "answers",
    "handle_errors",
    "limit_problem",
    "problem_response",
    "retry_after",
    "unavailable",
]

logger = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Content too large",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
INDEX_DOWN = "The image index is unavailable; try again."


class Problem(Exception):
    """An error for the client, with the status it belongs to and the UI's own words."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


def problem_response(status: int, detail: str, headers: dict[str, str] | None = None):
    """A problem+json response."""
    body = ProblemDetails(title=TITLES.get(status, "Error"), status=status, detail=detail)
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM, headers=headers or {}
    )


def unavailable(detail: str) -> Problem:
    """503: a service the request needs did not answer; worth trying again shortly."""
    return Problem(503, detail, headers={"Retry-After": "5"})


def retry_after(exc: LimitReached) -> str:
    """Seconds until the limit's window frees up, for a Retry-After header."""
    return str(max(1, math.ceil((exc.retry_at - datetime.now(UTC)).total_seconds())))


def limit_problem(exc: LimitReached) -> Problem:
    """429 with Retry-After, in the page's words."""
    return Problem(429, str(exc), headers={"Retry-After": retry_after(exc)})


def answers(*statuses: int) -> dict:
    """An operation's error answers, for its OpenAPI entry.

    Only the statuses: the app's `openapi()` gives every error answer its problem+json body.
    """
    return {status: {"description": TITLES[status]} for status in statuses}


def handle_errors(api: FastAPI) -> None:
    """Make every error `api` answers a problem+json, whatever raised it."""

    @api.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem):
        return problem_response(exc.status, exc.detail, exc.headers)

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Each method is its own route: name every method this path has, not one.
            allowed = {
                method
                for route in api.routes
                if route.matches(request.scope)[0] != Match.NONE
                for method in getattr(route, "methods", None) or ()
            }
            headers["Allow"] = ", ".join(sorted(allowed))
        return problem_response(exc.status_code, str(exc.detail), headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        detail = f"{where}: {first.get('msg', 'invalid')}" if where else "The request is invalid."
        return problem_response(422, detail)

    @api.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):
        logger.exception("API request failed unexpectedly")
        return problem_response(500, "Something went wrong on the server; it has been logged.")
