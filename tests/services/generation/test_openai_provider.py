"""The real openai SDK against a fake server speaking OpenAI's and Azure's wire format."""

from __future__ import annotations

import logging
import time

import pytest

from tests.fakes.openai_server import SLOW_S, SUGGESTION, FakeOpenAI
from visionary_app.services.generation.pipeline import GenerationFailed, GenerationPipeline
from visionary_app.services.generation.providers import ProviderError
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.studio import build_models
from visionary_app.settings import Settings


def build_provider(settings):
    """The default model's provider, and the suggester, as the studio builds them."""
    menu, suggester = build_models(settings)
    return menu.default.provider, suggester


@pytest.fixture(scope="module")
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT",
                 "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def _settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def openai_settings(fake: FakeOpenAI, **values) -> Settings:
    base = {
        "provider": "openai",
        "OPENAI_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.base_url,
        "provider_timeout_seconds": 5,
        "provider_max_retries": 1,
    }
    return _settings(**{**base, **values})


def azure_settings(fake: FakeOpenAI, **values) -> Settings:
    base = {
        "AZURE_OPENAI_ENDPOINT": fake.azure_endpoint,
        "AZURE_OPENAI_API_KEY": fake.azure_key,
        "OPENAI_API_VERSION": "2025-04-01-preview",
        "azure_openai_image_deployment": "images-prod",
        "azure_openai_chat_deployment": "chat-prod",
        "provider_max_retries": 0,
    }
    return _settings(**{**base, **values})


def _since(fake: FakeOpenAI, count: int):
    return fake.requests[count:]


# Choosing the provider from the SDK's own variables


def test_nothing_set_means_offline():
    settings = _settings()
    assert settings.resolved_provider == "offline"
    assert settings.resolved_image_model == "offline-preview"


def test_the_sdk_variable_names_select_the_provider(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert _settings().resolved_provider == "openai"
    assert _settings().resolved_image_model == "gpt-image-2"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert _settings().resolved_provider == "openai-compatible"
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://x.openai.azure.com")
    assert _settings().resolved_provider == "azure-openai"
    monkeypatch.setenv("VISIONARY_PROVIDER", "offline")
    assert _settings().resolved_provider == "offline"


# OpenAI


async def test_openai_returns_png_bytes_without_asking_for_urls(fake):
    provider, _ = build_provider(openai_settings(fake))
    before = len(fake.requests)
    images = await provider.generate("a castle", ImageOptions(size="1536x1024", quality="high"))
    (request,) = _since(fake, before)
    assert request.path == "/v1/images/generations"
    assert request.body == {
        "model": "gpt-image-2",
        "prompt": "a castle",
        "n": 1,
        "size": "1536x1024",
        "quality": "high",
    }
    assert images[0].data.startswith(b"\x89PNG")
    assert images[0].content_type == "image/png"
    assert images[0].revised_prompt is None


async def test_revised_prompt_is_kept_and_batches_come_in_one_request(fake):
    provider, _ = build_provider(openai_settings(fake))
    before = len(fake.requests)
    images = await provider.generate("[revise] a bridge", ImageOptions(size="1024x1024", n=3))
    assert len(_since(fake, before)) == 1
    assert len(images) == 3 and len({image.data for image in images}) == 3
    assert images[0].revised_prompt == "REVISED: [revise] a bridge with dramatic lighting"


async def test_legacy_compatible_models_are_asked_for_base64(fake):
    settings = openai_settings(fake, provider="openai-compatible", image_model="dall-e-3")
    provider, _ = build_provider(settings)
    before = len(fake.requests)
    await provider.generate("x", ImageOptions(size="1792x1024", quality="hd", style="natural"))
    (request,) = _since(fake, before)
    assert request.body["response_format"] == "b64_json"
    assert request.body["style"] == "natural"
    assert provider.label == f"127.0.0.1:{fake.port}"


async def test_safety_refusals_are_explained_and_not_retried(fake):
    provider, _ = build_provider(openai_settings(fake))
    for marker in ("[refuse]", "[policy]"):
        before = len(fake.requests)
        with pytest.raises(ProviderError, match="refused by OpenAI's safety system"):
            await provider.generate(f"{marker} x", ImageOptions())
        assert len(_since(fake, before)) == 1


async def test_rate_limit_is_retried_then_reported_with_retry_after(fake):
    provider, _ = build_provider(openai_settings(fake, provider_max_retries=1))
    before = len(fake.requests)
    with pytest.raises(ProviderError, match=r"OpenAI is rate limiting requests: try again in 2 s"):
        await provider.generate("[429] x", ImageOptions())
    assert len(_since(fake, before)) == 2


async def test_one_rate_limit_then_success(fake):
    provider, _ = build_provider(openai_settings(fake, provider_max_retries=2))
    before = len(fake.requests)
    images = await provider.generate("[429-once] a lake", ImageOptions())
    assert len(_since(fake, before)) == 2
    assert images[0].data.startswith(b"\x89PNG")


async def test_rejected_key_is_a_configuration_error_and_the_key_is_not_logged(fake, caplog):
    provider, _ = build_provider(openai_settings(fake, OPENAI_API_KEY="sk-wrong-key-123456"))
    with caplog.at_level(logging.ERROR):
        with pytest.raises(ProviderError, match="OpenAI rejected the API key"):
            await provider.generate("x", ImageOptions())
    assert "configuration error" in caplog.text
    assert "sk-wrong-key-123456" not in caplog.text


async def test_timeout_names_the_provider_and_the_bound(fake):
    provider, _ = build_provider(
        openai_settings(fake, provider_timeout_seconds=1, provider_max_retries=0)
    )
    started = time.monotonic()
    with pytest.raises(ProviderError, match="OpenAI did not answer within 1 s"):
        await provider.generate("[slow] x", ImageOptions())
    assert time.monotonic() - started < SLOW_S


async def test_server_errors_and_unreachable_servers(fake):
    provider, _ = build_provider(openai_settings(fake, provider_max_retries=0))
    with pytest.raises(ProviderError, match=r"OpenAI had a server error \(HTTP 500\)"):
        await provider.generate("[500] x", ImageOptions())
    closed, _ = build_provider(
        openai_settings(fake, OPENAI_BASE_URL="http://127.0.0.1:9/v1", provider_max_retries=0)
    )
    with pytest.raises(ProviderError, match=r"Could not connect to OpenAI at 127\.0\.0\.1:9"):
        await closed.generate("x", ImageOptions())


async def test_credentials_in_the_address_never_reach_a_message(fake, caplog):
    # An address with credentials in it: "user:pass@host" must not show up in a toast or job row.
    secret_url = "http://someone:hunter2-secret@127.0.0.1:9/v1"
    closed, _ = build_provider(
        _settings(provider="openai-compatible", OPENAI_BASE_URL=secret_url,
                  provider_max_retries=0, provider_timeout_seconds=5)
    )  # fmt: skip
    with pytest.raises(ProviderError) as raised:
        await closed.generate("x", ImageOptions())
    message = str(raised.value)
    assert "127.0.0.1:9" in message
    assert "hunter2" not in message and "someone" not in message
    assert "hunter2" not in caplog.text
    assert closed.label == "127.0.0.1:9"


async def test_an_image_with_too_many_pixels_is_refused(fake):
    provider, _ = build_provider(openai_settings(fake))
    with pytest.raises(ProviderError, match="sent an image with too many pixels"):
        await provider.generate("[huge] x", ImageOptions())


async def test_garbage_image_data_is_refused(fake):
    provider, _ = build_provider(openai_settings(fake))
    with pytest.raises(ProviderError, match="not an image"):
        await provider.generate("[not-an-image] x", ImageOptions())


# Azure OpenAI


async def test_azure_uses_the_deployment_path_api_version_and_key_header(fake):
    provider, suggester = build_provider(azure_settings(fake))
    assert provider.label == "Azure OpenAI"
    before = len(fake.requests)
    images = await provider.generate("a harbour", ImageOptions(size="1024x1024"))
    assert await suggester.suggest() == SUGGESTION
    image_request, chat_request = _since(fake, before)
    assert image_request.path == "/openai/deployments/images-prod/images/generations"
    assert image_request.query == {"api-version": "2025-04-01-preview"}
    assert image_request.headers == {"api-key": fake.azure_key}
    assert chat_request.path == "/openai/deployments/chat-prod/chat/completions"
    assert images[0].data.startswith(b"\x89PNG")


async def test_azure_v1_endpoint_uses_openai_paths_without_api_version(fake):
    settings = azure_settings(fake, AZURE_OPENAI_ENDPOINT=f"{fake.azure_endpoint}/openai/v1/")
    provider, _ = build_provider(settings)
    assert provider.label == "Azure OpenAI"
    before = len(fake.requests)
    images = await provider.generate("a harbour", ImageOptions(size="1024x1024"))
    (request,) = _since(fake, before)
    assert request.path == "/openai/v1/images/generations"
    assert request.query == {}  # no api-version on the v1 API
    assert request.headers == {"api-key": fake.azure_key}
    assert request.body["model"] == "images-prod"  # the deployment, named in the request
    assert images[0].data.startswith(b"\x89PNG")


async def test_azure_refusal_names_azure(fake):
    provider, _ = build_provider(azure_settings(fake))
    with pytest.raises(ProviderError, match="refused by Azure OpenAI's safety system"):
        await provider.generate("[refuse] x", ImageOptions())


# Suggestions and the pipeline


async def test_chat_suggestion_is_one_clean_line(fake):
    _, suggester = build_provider(openai_settings(fake, chat_model="gpt-5.4-mini"))
    before = len(fake.requests)
    assert await suggester.suggest() == SUGGESTION
    (request,) = _since(fake, before)
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "gpt-5.4-mini"


async def test_offline_suggestions_need_no_key():
    _, suggester = build_provider(_settings())
    suggestions = {await suggester.suggest() for _ in range(10)}
    assert len(suggestions) > 1
    assert all(len(text) > 30 and text.count(", ") >= 2 for text in suggestions)


async def test_provider_failure_stores_nothing(fake, store, catalog):
    provider, _ = build_provider(openai_settings(fake))
    pipeline = GenerationPipeline(provider, store, catalog, max_prompt_length=4000)
    with pytest.raises(GenerationFailed, match="safety system"):
        await pipeline.generate("[refuse] x")
    assert await catalog.count() == 0
    assert not store.root.exists() or not any(store.root.rglob("*.png"))
    image = await pipeline.generate("[revise] kept")
    assert (await catalog.get(image.id)).revised_prompt.startswith("REVISED:")


def test_a_model_near_its_shutdown_is_announced_and_past_it_refused():
    from datetime import date

    from visionary_app.services.generation.providers.capabilities import (
        ModelRetired,
        retirement_notice,
    )

    notice = retirement_notice("gpt-image-1.5", provider="openai", today=date(2026, 11, 28))
    assert "shuts down on 2026-12-01 (in 3 days)" in notice and "gpt-image-2" in notice
    assert retirement_notice("gpt-image-1.5", provider="openai", today=date(2026, 10, 1)) == ""
    assert retirement_notice("gpt-image-2", provider="openai", today=date(2026, 11, 28)) == ""
    # A compatible server may serve the name as long as it likes.
    assert retirement_notice("gpt-image-1.5", provider="openai-compatible",
                             today=date(2027, 1, 1)) == ""  # fmt: skip
    with pytest.raises(ModelRetired, match="shut down by OpenAI on 2026-12-01: set "
                       "VISIONARY_IMAGE_MODEL=gpt-image-2"):  # fmt: skip
        retirement_notice("chatgpt-image-latest", provider="azure-openai", today=date(2026, 12, 1))


def test_the_app_refuses_to_start_on_a_model_that_was_shut_down(monkeypatch):
    import datetime as real_datetime

    from pydantic import ValidationError

    from visionary_app import settings as settings_module

    class AfterShutdown(real_datetime.date):
        @classmethod
        def today(cls):
            return cls(2026, 12, 2)

    monkeypatch.setattr(settings_module, "date", AfterShutdown)
    with pytest.raises(ValidationError, match="VISIONARY_IMAGE_MODEL=gpt-image-2"):
        _settings(provider="openai", OPENAI_API_KEY="sk-x", image_model="gpt-image-1-mini")
    assert _settings(provider="openai", OPENAI_API_KEY="sk-x", image_model="gpt-image-2")


async def test_requests_carry_a_keyed_hash_of_the_owner_never_the_name(fake, store, catalog):
    provider, _ = build_provider(openai_settings(fake))
    pipeline = GenerationPipeline(
        provider, store, catalog, max_prompt_length=4000, identity_key=b"k" * 32
    )
    seen = len(fake.requests)
    await pipeline.generate("for alice", owner="user:alice")
    await pipeline.generate("for alice again", owner="user:alice")
    await pipeline.generate("for bob", owner="user:bob")
    bodies = [request.body for request in _since(fake, seen)]
    ids = [body["safety_identifier"] for body in bodies]
    assert ids[0] == ids[1] != ids[2]  # stable per owner, different between owners
    assert all(len(i) == 32 and "alice" not in i and "bob" not in i for i in ids)
    assert all("user" not in body for body in bodies)  # not the deprecated field
    other_key = GenerationPipeline(
        provider, store, catalog, max_prompt_length=4000, identity_key=b"x" * 32
    )
    assert other_key.safety_identifier("user:alice") != ids[0]  # keyed: not a bare hash
