"""The HTTP API in process: a real studio in tmp_path, named users, and an ASGI client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.studios import fresh_studio
from visionary_app.api.downloads import download_routes
from visionary_app.api.media import media_routes
from visionary_app.api.openai_compatible import build_openai_compatible
from visionary_app.api.shares import share_routes
from visionary_app.api.v1 import build_api, mount
from visionary_app.services.access.api_tokens import SCOPES
from visionary_app.services.studio import Studio, get_studio
from visionary_app.settings import get_settings

BASE = "http://testserver"


def routes() -> Starlette:
    """The app's API routes, as the Reflex app mounts them."""
    return Starlette(
        routes=[
            *media_routes(lambda: get_studio().store),
            *download_routes(get_studio),
            *share_routes(get_studio),
            mount("/api/v1", build_api(get_studio)),
            mount("/v1", build_openai_compatible(get_studio)),
        ]
    )


@pytest.fixture
async def studio(tmp_path, monkeypatch) -> AsyncIterator[Studio]:
    """The process-wide studio: offline, small images, sign-in with named users."""
    built = fresh_studio(
        monkeypatch,
        tmp_path,
        access_users="alice:alice-password,bob:bob-password",
        admins="carol",
    )
    yield built
    await built.aclose()
    get_settings.cache_clear()


@pytest.fixture
async def client(studio) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=routes()), base_url=BASE) as c:
        yield c


async def token_for(studio: Studio, user: str, scopes=SCOPES) -> str:
    """A fresh personal token of `user:<user>`."""
    token, _ = await studio.api_tokens.create(f"user:{user}", f"{user}'s test token", scopes)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def finished_job(client, headers, job_id: str, timeout_s: float = 20) -> dict:
    """The job as the API shows it once it has ended (polled every 0.1 s)."""
    for _ in range(int(timeout_s * 10)):
        job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")
