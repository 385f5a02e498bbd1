"""Budgets over HTTP: a job that would pass one is a 429 in the page's words, and never reaches
the provider; cheap jobs go through until the budget is used; jobs carry their money."""

from __future__ import annotations

import pytest

from tests.api.conftest import bearer, finished_job, token_for
from tests.fakes.openai_server import FakeOpenAI
from tests.support.studios import fresh_studio
from visionary_app.settings import get_settings


@pytest.fixture(scope="module")
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
async def studio(tmp_path, monkeypatch, fake):
    built = fresh_studio(
        monkeypatch,
        tmp_path,
        env={"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.base_url},
        provider="openai",
        partial_images="0",
        provider_max_retries="0",
        budget_usd_per_user_per_day="0.05",
        access_users="alice:alice-password,carol:carol-password",
        admins="carol",
    )
    yield built
    await built.aclose()
    get_settings.cache_clear()


async def test_a_job_over_the_budget_is_refused_before_any_call(client, studio, fake):
    headers = bearer(await token_for(studio, "alice"))
    body = {"prompt": "a fox", "quality": "high", "size": "1024x1024"}
    before = len(fake.requests)
    refused = await client.post("/api/v1/generations", json=body, headers=headers)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    detail = refused.json()["detail"]
    assert "your daily budget of $0.05" in detail and "left" in detail and "resets" in detail
    assert int(refused.headers["retry-after"]) > 0
    assert len(fake.requests) == before  # no provider call
    cheap = {"prompt": "a small fox", "quality": "low", "size": "1024x1024"}
    spent = 0.0
    while True:
        answer = await client.post("/api/v1/generations", json=cheap, headers=headers)
        if answer.status_code == 429:
            break
        assert answer.status_code == 202, answer.text
        job = await finished_job(client, headers, answer.json()["id"], timeout_s=10)
        assert job["status"] == "succeeded" and job["cost_usd"] is not None
        assert 0 < job["estimated_usd"] < 0.05
        spent += job["cost_usd"]
    assert spent <= 0.05


async def test_usage_by_day_user_provider_and_model(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    answer = await client.post("/api/v1/generations", json={"prompt": "a fox", "quality": "low"},
                               headers=alice)  # fmt: skip
    job = await finished_job(client, alice, answer.json()["id"], timeout_s=10)
    usage = (await client.get("/api/v1/usage?days=7", headers=alice)).json()
    assert usage["everyone"] is False and len(usage["days"]) == 7
    assert usage["total_usd"] == pytest.approx(job["cost_usd"])
    assert usage["by_model"] == [{"key": "openai/gpt-image-2", "usd": job["cost_usd"]}]
    assert usage["by_provider"][0]["key"] == "openai"
    csv = await client.get("/api/v1/usage?format=csv", headers=alice)
    assert csv.headers["content-type"].startswith("text/csv")
    assert "model,openai/gpt-image-2," in csv.text
    assert (await client.get("/api/v1/usage")).status_code == 401
    carol = bearer(await token_for(studio, "carol"))
    everyone = (await client.get("/api/v1/usage", headers=carol)).json()
    assert everyone["everyone"] is True
    assert [row["key"] for row in everyone["by_user"]] == ["alice"]
