"""`/healthz` (the process answers) and `/readyz` (what it depends on answers too).

A load balancer or orchestrator sends traffic only to a ready worker and restarts one that is
not alive. Readiness checks the index database, the blob store, Redis when configured, and
that each configured provider answers, by a request that costs nothing (reading the model's
entry; never making an image). The JSON detail names each check and why it failed, never a
secret. With one provider the check is `provider`; with several, `provider:<name>` each.
Reflex's own `/ping` and `/_health` stay as they are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from visionary_app.services.gallery import CatalogError
from visionary_app.services.generation import ModelRetired, ProviderError, retirement_notice
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import Studio

__all__ = ["health_routes"]

_CHECK_TIMEOUT_S = 3.0


async def _database(studio: Studio) -> str:
    await studio.catalog.reachable()
    return "reachable"


async def _blob_store(studio: Studio) -> str:
    exists = await studio.store.root_exists()
    return "reachable" if exists else "reachable (empty: created with the first image)"


async def _redis(studio: Studio) -> str:
    import redis.asyncio as redis

    client = redis.from_url(studio.settings.redis_url, socket_timeout=_CHECK_TIMEOUT_S)
    try:
        await client.ping()
    finally:
        await client.aclose()
    return "reachable"


def _provider_check(providers: list) -> Callable[[Studio], Awaitable[str]]:
    """One kind of provider: each of its models not shut down, and each one answering."""

    async def check(_studio: Studio) -> str:
        said = []
        for provider in providers:
            retirement_notice(provider.model, provider=provider.name, today=date.today())
            said.append(await provider.check_reachable())
        models = ", ".join(provider.model for provider in providers)
        return f"{said[0]} ({models})"

    return check


def _checks(studio: Studio) -> dict[str, Callable[[Studio], Awaitable[str]]]:
    checks: dict[str, Callable[[Studio], Awaitable[str]]] = {
        "database": _database,
        "blob_store": _blob_store,
    }
    kinds: dict[str, list] = {}
    for provider in studio.models.providers:
        kinds.setdefault(provider.name, []).append(provider)
    for name, providers in kinds.items():
        checks["provider" if len(kinds) == 1 else f"provider:{name}"] = _provider_check(providers)
    if studio.settings.redis_url:
        checks["redis"] = _redis
    return checks


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {_CHECK_TIMEOUT_S:g} s"
    if isinstance(exc, CatalogError | StorageError | ModelRetired | ValueError | ProviderError):
        return str(exc)
    return exc.__class__.__name__  # an unexpected error's text could carry an address


def health_routes(get_studio: Callable[[], Studio]) -> list[Route]:
    """The two routes; the studio is looked up per request."""

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> JSONResponse:
        studio = get_studio()
        checks = _checks(studio)
        names = list(checks)
        started = time.perf_counter()
        results = await asyncio.gather(
            *(asyncio.wait_for(checks[name](studio), _CHECK_TIMEOUT_S) for name in names),
            return_exceptions=True,
        )
        detail = {
            name: {"ok": False, "detail": _reason(result)}
            if isinstance(result, BaseException)
            else {"ok": True, "detail": result}
            for name, result in zip(names, results, strict=True)
        }
        ready = all(check["ok"] for check in detail.values())
        body = {
            "status": "ready" if ready else "not ready",
            "checks": detail,
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
    ]
