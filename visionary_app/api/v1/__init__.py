"""`/api/v1`: one router per resource (jobs, images, models), token checks, problem+json errors."""

from visionary_app.api.v1.app import build_api, mount
from visionary_app.api.v1.auth import holder_for
from visionary_app.api.v1.errors import Problem, problem_response, retry_after
from visionary_app.api.v1.jobs import check_mask, requested_options

__all__ = [
    "Problem",
    "build_api",
    "check_mask",
    "holder_for",
    "mount",
    "problem_response",
    "requested_options",
    "retry_after",
]
