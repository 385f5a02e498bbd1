"""ComfyUI through its HTTP routes and websocket, against a stand-in that speaks both."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from PIL import Image as PILImage

from tests.conftest import small_pipeline
from tests.fakes.comfyui_server import FakeComfyUI
from visionary_app.models import ImageKind
from visionary_app.services.generation.pipeline import GenerationFailed, Recipe
from visionary_app.services.generation.providers.base import (
    ImageOptions,
    InputImage,
    ProviderError,
)
from visionary_app.services.generation.providers.comfyui import fill_workflow, load_workflows
from visionary_app.services.generation.providers.offline import render_png
from visionary_app.services.generation.queue import JobQueue
from visionary_app.services.generation.runner import JobRunner, Running
from visionary_app.services.limits.image_limits import JobLimits
from visionary_app.services.studio import build_comfyui, build_models
from visionary_app.settings import Settings


@pytest.fixture(scope="module")
def comfy():
    server = FakeComfyUI().start()
    yield server
    server.stop()


def comfy_settings(server: FakeComfyUI, **extra) -> Settings:
    values = {"comfyui_url": server.url, "provider_max_retries": 0, "provider": "auto"}
    return Settings(_env_file=None, **(values | extra))


def provider_for(server: FakeComfyUI, model: str = "text-to-image", **extra):
    source = build_comfyui(comfy_settings(server, **extra))
    menu, _ = build_models(comfy_settings(server, **extra), source)
    return menu.get(f"comfyui/{model}").provider, source


def test_placeholders_are_filled_as_numbers_or_text():
    graph = {"1": {"class_type": "X", "inputs": {"w": "{{width}}", "t": "{{prompt}}, ink",
                                                   "n": ["2", 0], "s": "{{seed}}"}}}  # fmt: skip
    filled = fill_workflow(graph, {"width": 512, "prompt": "a fox", "seed": 7})
    assert filled["1"]["inputs"] == {"w": 512, "t": "a fox, ink", "n": ["2", 0], "s": 7}
    assert graph["1"]["inputs"]["w"] == "{{width}}"  # the workflow itself is untouched


def test_the_shipped_workflows_and_a_folder(tmp_path):
    (tmp_path / "flux-dev.json").write_text(json.dumps({
        "1": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}"}}}))  # fmt: skip
    workflows = load_workflows(tmp_path)
    assert {"text-to-image", "inpaint", "flux-dev"} <= set(workflows)
    assert workflows["inpaint"].edits and not workflows["text-to-image"].edits
    (tmp_path / "broken.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"broken\.json"):
        load_workflows(tmp_path)


async def test_checkpoints_are_found_and_offered(comfy):
    settings = comfy_settings(comfy, comfyui_checkpoints="sd_xl_base_1.0.safetensors")
    source = build_comfyui(settings)
    menu, _ = build_models(settings, source)
    assert [c.key for c in menu] == [
        "comfyui/text-to-image",
        "comfyui/sd_xl_base_1.0.safetensors",
    ]
    menu.add(await source.discover())
    assert "comfyui/flux1-schnell.safetensors" in [c.key for c in menu]
    assert menu.get("comfyui/text-to-image").capabilities.edits


async def test_generates_with_previews_and_seconds(comfy):
    provider, _ = provider_for(comfy)
    previews, steps = [], []
    answer = await provider.generate(
        "a lighthouse", ImageOptions(size="1216x832", n=2, seed=5),
        on_partial=lambda index, data, kind: previews.append((index, kind)),
        on_progress=lambda done, total: steps.append((done, total)),
    )  # fmt: skip
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert len(answer) == 2 and answer[0].width > answer[0].height
    assert previews == [(0, "image/png"), (0, "image/png")]
    assert answer.usage.seconds > 0 and answer.usage.images == 2
    graph = list(comfy.prompts.values())[-1]
    assert graph["3"]["inputs"]["seed"] == 5 and graph["5"]["inputs"]["batch_size"] == 2
    assert graph["4"]["inputs"]["ckpt_name"] == comfy.checkpoints[0]  # asked of the server
    assert graph["6"]["inputs"]["text"] == "a lighthouse"


async def test_an_edit_uploads_the_image_and_mask(comfy):
    provider, _ = provider_for(comfy)
    source = render_png("a meadow", 96, 64)
    mask = io.BytesIO()
    PILImage.new("RGBA", (96, 64), (0, 0, 0, 0)).save(mask, format="PNG")
    answer = await provider.edit(
        "add poppies", [InputImage(source, "image/png")], ImageOptions(size="1024x1024"),
        mask=mask.getvalue(),
    )  # fmt: skip
    assert (answer[0].width, answer[0].height) == (96, 64)
    graph = list(comfy.prompts.values())[-1]
    assert comfy.uploads[graph["11"]["inputs"]["image"]] == mask.getvalue()
    assert graph["10"]["inputs"]["image"] in comfy.uploads


@pytest.mark.parametrize(
    ("prompt", "kind", "words"),
    [
        ("a cat [comfy-error]", "server", "CUDA out of memory"),
        ("a cat [vanish]", "connection", "went away"),
    ],
)
async def test_failures_mid_run_are_explained(comfy, prompt, kind, words):
    provider, _ = provider_for(comfy)
    with pytest.raises(ProviderError, match=words) as failure:
        await provider.generate(prompt, ImageOptions(size="512x512"))
    assert failure.value.kind == kind


async def test_a_missing_model_or_node_is_explained(comfy, tmp_path):
    provider, _ = provider_for(comfy, comfyui_checkpoints="nowhere.safetensors",
                               model="nowhere.safetensors")  # fmt: skip
    with pytest.raises(ProviderError, match=r"nowhere\.safetensors"):
        await provider.generate("a cat", ImageOptions(size="512x512"))
    (tmp_path / "custom.json").write_text(json.dumps({
        "1": {"class_type": "FancyUpscaler", "inputs": {"text": "{{prompt}}"}}}))  # fmt: skip
    custom, _ = provider_for(comfy, comfyui_workflows_dir=str(tmp_path), model="custom")
    with pytest.raises(ProviderError, match="not installed"):
        await custom.generate("a cat", ImageOptions(size="512x512"))


async def test_cancel_interrupts_the_run_on_the_server(comfy):
    provider, _ = provider_for(comfy)
    run = asyncio.create_task(provider.generate("a slow sea [slow]", ImageOptions(size="512x512")))
    for _ in range(100):
        if any("[slow]" in g["6"]["inputs"]["text"] for g in comfy.prompts.values()):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    (prompt_id,) = [k for k, g in comfy.prompts.items() if "[slow]" in g["6"]["inputs"]["text"]]
    assert prompt_id in comfy.interrupted and prompt_id in comfy.deleted


async def test_an_unreachable_server_and_a_bad_auth_header(comfy):
    provider, _ = provider_for(comfy, comfyui_url="http://127.0.0.1:9")
    with pytest.raises(ProviderError, match="Could not reach"):
        await provider.generate("a cat", ImageOptions(size="512x512"))
    with pytest.raises(ProviderError, match="does not answer"):
        await provider.check_reachable()
    comfy.auth = ("X-Api-Key", "right")
    try:
        wrong, _ = provider_for(comfy, comfyui_auth_header="X-Api-Key: wrong")
        with pytest.raises(ProviderError, match="rejected"):
            await wrong.generate("a cat", ImageOptions(size="512x512"))
        right, _ = provider_for(comfy, comfyui_auth_header="X-Api-Key: right")
        assert "reachable" in await right.check_reachable()
    finally:
        comfy.auth = None


async def test_the_pipeline_stores_comfyui_images_and_nothing_on_failure(comfy, store, catalog):
    provider, _ = provider_for(comfy)
    pipeline = small_pipeline(store, catalog, provider)
    options = ImageOptions(size="512x512", model="comfyui/text-to-image")
    batch = await pipeline.make(Recipe(ImageKind.GENERATED, "a harbour", options), owner="u:a")
    (image,) = batch.kept
    assert (image.provider, image.model) == ("comfyui", "text-to-image")
    assert await store.read(image.blob_name) in comfy.outputs.values()
    with pytest.raises(GenerationFailed, match="CUDA"):
        await pipeline.make(Recipe(ImageKind.GENERATED, "x [comfy-error]", options), owner="u:a")
    assert await catalog.count() == 1


async def test_a_job_tells_its_steps_as_it_runs(comfy, store, catalog, engine):
    provider, _ = provider_for(comfy)
    runner = JobRunner(JobQueue(engine, JobLimits()), small_pipeline(store, catalog, provider),
                       progress_s=0.05)  # fmt: skip
    options = ImageOptions(size="512x512", model="comfyui/text-to-image")
    job = await runner.submit("alice", "a quiet bay", options)
    events = [event async for event in runner.follow(job)]
    told = [event.steps for event in events if isinstance(event, Running) and event.steps]
    assert told and told[-1] == (3, 3)
