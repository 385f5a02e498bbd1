"""The HTTP API, `/api/v1`: jobs and images for scripts and teams, on the same services as the UI.

Every request carries a token (`Authorization: Bearer …`) and acts as the token's owner,
within its scopes, under the same limits, caps and privacy rules as the browser; the messages
are the ones the page shows. Errors are `application/problem+json` (RFC 9457) and never carry
a stack trace or a secret. The OpenAPI document is at `/api/v1/openapi.json`, browsable docs
at `/api/v1/docs`.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations.
import re
from collections.abc import Callable

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.routing import Mount

from visionary_app.api.v1 import boards, images, jobs, models, shares, usage, users, webhooks
from visionary_app.api.v1.errors import PROBLEM, TITLES, Problem, ProblemDetails, handle_errors
from visionary_app.services.studio import Studio

__all__ = ["build_api", "mount"]


async def _only_known_query(request: Request) -> None:
    """A query parameter the operation does not have (a typo), or one given twice, is refused."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    known = {param.alias for param in getattr(dependant, "query_params", [])}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise Problem(422, f"{unknown[0]!r} is not a query parameter of this operation.")
    repeated = sorted(k for k in known if len(request.query_params.getlist(k)) > 1)
    if repeated:  # every parameter here takes one value
        raise Problem(422, f"{repeated[0]!r} is given more than once.")


# OpenAPI links: from an operation's answer to the operations on what it made, so a client (or
# Schemathesis's stateful phase) can walk from a new job to its images, and so on.
# (method, path, status) of the source -> link name -> (method, path, {parameter: expression}).
_LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("post", "/generations", "202"): {
        "GetJob": ("get", "/jobs/{job_id}", {"job_id": "$response.body#/id"}),
        "CancelJob": ("post", "/jobs/{job_id}/cancel", {"job_id": "$response.body#/id"}),
    },
    ("post", "/edits", "202"): {
        "GetJob": ("get", "/jobs/{job_id}", {"job_id": "$response.body#/id"}),
    },
    ("get", "/jobs/{job_id}", "200"): {
        "GetFirstImage": ("get", "/images/{image_id}", {"image_id": "$response.body#/image_ids/0"}),
    },
    ("post", "/images", "201"): {
        "GetImage": ("get", "/images/{image_id}", {"image_id": "$response.body#/id"}),
        "ChangeImage": ("patch", "/images/{image_id}", {"image_id": "$response.body#/id"}),
        "DeleteImage": ("delete", "/images/{image_id}", {"image_id": "$response.body#/id"}),
    },
    ("post", "/boards", "201"): {
        "GetBoard": ("get", "/boards/{board_id}", {"board_id": "$response.body#/id"}),
        "ChangeBoard": ("patch", "/boards/{board_id}", {"board_id": "$response.body#/id"}),
        "AddToBoard": ("post", "/boards/{board_id}/images", {"board_id": "$response.body#/id"}),
        "DeleteBoard": ("delete", "/boards/{board_id}", {"board_id": "$response.body#/id"}),
    },
    ("post", "/shares", "201"): {
        "RevokeShare": ("delete", "/shares/{share_id}", {"share_id": "$response.body#/id"}),
    },
}


def _add_links(document: dict) -> None:
    """Put `_LINKS` into the document's responses, naming targets by their operationId."""
    paths = document.get("paths", {})
    for (method, path, status), links in _LINKS.items():
        answer = paths[path][method]["responses"][status]
        answer["links"] = {
            name: {
                "operationId": paths[target_path][target_method]["operationId"],
                "parameters": parameters,
            }
            for name, (target_method, target_path, parameters) in links.items()
        }


def build_api(get_studio: Callable[[], Studio]) -> FastAPI:
    """The `/api/v1` app (mounted there by the Reflex app's API transformer)."""
    api = FastAPI(
        dependencies=[Depends(_only_known_query)],
        title="VisionaryAI API",
        version="1.0.0",
        description=__doc__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    api.state.get_studio = get_studio  # read by every route through auth.current_studio
    handle_errors(api)
    api.include_router(jobs.router)
    api.include_router(images.router)
    api.include_router(boards.router)
    api.include_router(shares.router)
    api.include_router(models.router)
    api.include_router(usage.router)
    api.include_router(webhooks.router)
    api.include_router(users.router)

    def openapi() -> dict:
        # Every error is problem+json (FastAPI documents its own 422 as application/json),
        # and every operation can answer 401, 403, 422 and 503.
        if api.openapi_schema is None:
            document = get_openapi(title=api.title, version=api.version,
                                   description=api.description, routes=api.routes)  # fmt: skip
            problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    answers = operation.setdefault("responses", {})
                    for status in ("400", "401", "403", "422", "503"):
                        answers.setdefault(status, {"description": TITLES[int(status)]})
                    for status, answer in answers.items():
                        if int(status) >= 400:
                            answer["content"] = problem
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            schemas["ProblemDetails"] = ProblemDetails.model_json_schema()
            _add_links(document)
            api.openapi_schema = document
        return api.openapi_schema

    api.openapi = openapi
    return api


def mount(path: str, app) -> Mount:
    """Mount `app` at `path` for every path below it, even one with a newline (%0A) in it.

    Starlette's mount pattern stops at a newline, and the request would fall through to a
    plain-text 404 instead of the API's own answer.
    """
    mounted = Mount(path, app=app)
    mounted.path_regex = re.compile(mounted.path_regex.pattern, re.DOTALL)
    return mounted
