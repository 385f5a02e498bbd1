"""The one place where provider failures become messages a user can act on."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from visionary_app.services.generation.providers.base import ProviderError, public_host

if TYPE_CHECKING:
    import openai

__all__ = ["gemini_error", "provider_error", "status_error"]

logger = logging.getLogger(__name__)

_SAFETY_CODES = {"content_policy_violation", "moderation_blocked", "content_filter"}


def _code(exc: openai.APIStatusError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    code = getattr(exc, "code", None) or (error.get("code") if isinstance(error, dict) else None)
    return str(code) if code else None


def _retry_after_seconds(exc: openai.APIStatusError) -> int | None:
    headers = exc.response.headers
    for header, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return max(1, math.ceil(seconds))
    return None


def provider_error(exc: Exception, *, label: str, timeout_s: float) -> ProviderError:
    """Translate an `openai` SDK exception into a ProviderError with a clear message.

    `label` names the provider as the user knows it ("OpenAI", "Azure OpenAI", a host name).
    """
    import openai  # loaded by whoever raised `exc`; not by providers that never use it

    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(
            f"{label} did not answer within {timeout_s:g} s. Nothing was stored; try again.",
            "timeout",
        )
    if isinstance(exc, openai.APIConnectionError):
        host = (public_host(str(exc.request.url)) if exc.request else "") or "its address"
        return ProviderError(
            f"Could not connect to {label} at {host}. Nothing was stored; check the address "
            "or try again later.",
            "connection",
        )
    if isinstance(exc, openai.APIStatusError):
        code = _code(exc)
        if code in _SAFETY_CODES:
            return ProviderError(
                f"The prompt was refused by {label}'s safety system. Rephrase it and try again.",
                "safety",
            )
        return status_error(
            label, exc.status_code, exc.message or "", retry_after_s=_retry_after_seconds(exc)
        )
    return ProviderError(f"{label} failed unexpectedly ({exc.__class__.__name__}).", "unexpected")


def status_error(
    label: str, status: int, message: str, *, retry_after_s: int | None = None
) -> ProviderError:
    """What an HTTP error status from any provider means for the user."""
    if status == 429:
        when = f"in {retry_after_s} s" if retry_after_s is not None else "in a minute"
        return ProviderError(f"{label} is rate limiting requests: try again {when}.", "rate_limit")
    if status in (401, 403):
        # A configuration problem, not the user's: say so in the log (never the key itself).
        logger.error("configuration error: %s rejected the API key (HTTP %s)", label, status)
        return ProviderError(
            f"{label} rejected the API key (HTTP {status}). The app's provider settings "
            "need fixing; nothing was stored.",
            "auth",
        )
    if status == 404:
        return ProviderError(
            f"{label} does not know the configured model or deployment (HTTP 404). "
            "Check the model settings.",
            "not_found",
        )
    if status >= 500:
        return ProviderError(
            f"{label} had a server error (HTTP {status}). Nothing was stored; try again.",
            "server",
        )
    first_line = message.splitlines()[0][:300] if message else f"HTTP {status}"
    return ProviderError(f"{label} refused the request: {first_line}", "refused")


def gemini_error(exc: Exception, *, label: str, timeout_s: float) -> ProviderError:
    """Translate a `google-genai` SDK (or its HTTP client's) exception into a ProviderError.

    Gemini's errors carry the HTTP status and a status name: 429 RESOURCE_EXHAUSTED is a
    quota, 400 INVALID_ARGUMENT "API key not valid" is a bad key.
    """
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        status = int(exc.code or 0)
        message = exc.message or exc.status or ""
        if status == 400 and "api key" in message.lower():
            status = 401  # Gemini answers a bad key with 400
        if status == 429:
            return ProviderError(
                f"{label} quota is used up for now (RESOURCE_EXHAUSTED): try again in a minute, "
                "or ask whoever runs this studio to raise it. Nothing was stored.",
                "rate_limit",
            )
        return status_error(label, status, message)
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return ProviderError(
            f"{label} did not answer within {timeout_s:g} s. Nothing was stored; try again.",
            "timeout",
        )
    if isinstance(exc, OSError) or "Connect" in type(exc).__name__:
        return ProviderError(
            f"Could not connect to {label}. Nothing was stored; check the address or try "
            "again later.",
            "connection",
        )
    return ProviderError(f"{label} failed unexpectedly ({exc.__class__.__name__}).", "unexpected")
