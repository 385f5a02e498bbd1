"""The creative loop in Chromium: paint a mask and edit, upload then edit, vary, watch an image
form, and follow lineage both ways; on the offline provider (both stores) and the fake server."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ITEM,
    JOB_CARD,
    RunningApp,
    generate,
    keep_screenshot,
    launch_app,
    open_studio,
    seed_images,
    studio_page,
    toast,
    unique,
    visitor_owner,
)
from tests.fakes.openai_server import FakeOpenAI

PARTIAL = '[data-testid="partial-preview"]'
UPLOAD_INPUT = "#upload-image input[type=file]"


def _tile(page: Page, text: str):
    return page.locator(ITEM).filter(has=page.locator(".tile-prompt", has_text=text))


def _row(app: RunningApp, prompt: str) -> tuple[str, str, str | None, str]:
    """(id, kind, source_id, blob_name) of the one image with this prompt."""
    (row,) = app.query("SELECT id, kind, source_id, blob_name FROM image WHERE prompt = ?", prompt)
    return row


def _hex(value: str | None) -> str | None:
    return None if value is None else uuid.UUID(str(value)).hex


def _pixels(data: bytes) -> PILImage.Image:
    return PILImage.open(io.BytesIO(data)).convert("RGB")


def _paint_left_edge(page: Page) -> None:
    """One brush stroke down the left edge of the painter."""
    box = page.locator("#edit-mask").bounding_box()
    assert box is not None and box["width"] > 100
    page.mouse.move(box["x"] + 8, box["y"] + 8)
    page.mouse.down()
    page.mouse.move(box["x"] + 8, box["y"] + box["height"] - 8, steps=12)
    page.mouse.up()


def _open(page: Page, prompt: str) -> None:
    _tile(page, prompt).first.locator(".tile-open").click()
    expect(page.locator("#lightbox-prompt")).to_have_text(prompt)


def test_paint_a_mask_edit_and_follow_the_lineage_both_ways(
    page: Page, app: RunningApp, tmp_path: Path
):
    source_prompt, edit_prompt = unique("a quiet harbour"), unique("add a red boat")
    seed_images(app, [source_prompt], owner=visitor_owner(page))
    open_studio(page, app.url)
    (_, _, _, source_blob) = _row(app, source_prompt)
    source_bytes = app.read_blob(source_blob)
    _open(page, source_prompt)
    page.click("#edit-image")
    expect(page.locator("#editor")).to_be_visible()
    expect(page.locator("#lightbox")).to_have_count(0)
    _paint_left_edge(page)
    expect(page.locator("#edit-hint")).to_have_text("Only the painted area will change.")
    page.fill("#edit-prompt", edit_prompt)
    expect(page.locator("#edit-submit")).to_be_enabled()
    if app.store_kind == "local":
        page.screenshot(path=str(tmp_path / "editor.png"))
        keep_screenshot(tmp_path / "editor.png", "editor.png")
    page.click("#edit-submit")
    expect(page.locator("#editor")).to_have_count(0)
    expect(page.locator(toast("success")).filter(has_text="Edit ready")).to_be_visible(
        timeout=30_000
    )
    expect(_tile(page, edit_prompt)).to_have_count(1)

    source_id = _row(app, source_prompt)[0]
    _, kind, parent, edited_blob = _row(app, edit_prompt)
    assert kind == "edited" and _hex(parent) == _hex(source_id)
    # The offline provider repaints only what the mask marks: a stroke down the left edge.
    source, edited = _pixels(app.read_blob(source_blob)), _pixels(app.read_blob(edited_blob))
    assert source.size == edited.size
    width, height = source.size
    right = (width // 2, 0, width, height)
    assert edited.crop(right).tobytes() == source.crop(right).tobytes()
    strip = (0, height // 4, 6, height * 3 // 4)
    assert edited.crop(strip).tobytes() != source.crop(strip).tobytes()

    # Lineage, both ways: the edit names its source, the source lists its edit.
    _open(page, edit_prompt)
    expect(page.locator("#lightbox-kind")).to_have_text("Edited")
    expect(page.locator("#parent-link")).to_have_text(source_prompt)
    page.click("#parent-link")
    expect(page.locator("#lightbox-prompt")).to_have_text(source_prompt)
    expect(page.locator("#lightbox-kind")).to_have_text("Generated")
    child = page.locator("#lightbox-children .lineage-child")
    expect(child).to_have_count(1)
    child.click()
    expect(page.locator("#lightbox-prompt")).to_have_text(edit_prompt)
    assert app.read_blob(source_blob) == source_bytes  # the source is untouched


def _jpeg_with_location() -> bytes:
    picture = PILImage.new("RGB", (640, 480), (30, 120, 200))
    exif = PILImage.Exif()
    exif[0x010F] = "SecretCam"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_upload_then_edit(page: Page, app: RunningApp):
    name = f"holiday-{uuid.uuid4().hex[:6]}.jpg"
    page.set_input_files(
        UPLOAD_INPUT,
        files=[{"name": name, "mimeType": "image/jpeg", "buffer": _jpeg_with_location()}],
    )
    expect(page.locator("#lightbox-prompt")).to_have_text(name, timeout=20_000)
    expect(page.locator("#lightbox-kind")).to_have_text("Uploaded")
    upload_id, kind, _, blob = _row(app, name)
    assert kind == "upload"
    stored = app.read_blob(blob)
    assert b"SecretCam" not in stored
    assert dict(PILImage.open(io.BytesIO(stored)).getexif()) == {}

    page.click("#edit-image")
    page.fill("#edit-prompt", f"as a watercolour {name}")
    page.click("#edit-submit")  # no mask: the whole picture changes
    expect(_tile(page, f"as a watercolour {name}")).to_have_count(1, timeout=30_000)
    _, kind, parent, _ = _row(app, f"as a watercolour {name}")
    assert kind == "edited" and _hex(parent) == _hex(upload_id)


def test_more_like_this_makes_a_variation(page: Page, app: RunningApp):
    prompt = unique("a paper crane")
    seed_images(app, [prompt], owner=visitor_owner(page))
    open_studio(page, app.url)
    _open(page, prompt)
    page.click("#more-like-this")
    expect(page.locator(toast("success")).filter(has_text="Variation ready")).to_be_visible(
        timeout=30_000
    )
    expect(_tile(page, prompt)).to_have_count(2)
    rows = app.query("SELECT id, kind, source_id, blob_name FROM image WHERE prompt = ?", prompt)
    (original,) = [row for row in rows if row[1] == "generated"]
    (variation,) = [row for row in rows if row[1] == "variation"]
    assert _hex(variation[2]) == _hex(original[0])
    assert app.read_blob(variation[3]) != app.read_blob(original[3])
    _tile(page, prompt).first.locator(".tile-open").click()
    expect(page.locator("#lightbox-kind")).to_have_text("Variation")
    expect(page.locator("#parent-link")).to_have_text(prompt)


def test_a_streamed_generation_shows_a_partial_before_the_final(page: Page, app: RunningApp):
    prompt = unique("a lighthouse at dusk")
    before = len(app.blob_names())
    generate(page, prompt)
    card = page.locator(JOB_CARD).filter(has_text=prompt)
    expect(card.locator(PARTIAL)).to_be_visible(timeout=10_000)
    assert card.locator(PARTIAL).get_attribute("src").startswith("data:image/webp;base64,")
    expect(_tile(page, prompt)).to_have_count(1, timeout=30_000)
    expect(card).to_have_count(0)
    assert len(app.blob_names()) == before + 2  # the image and its thumbnail: no partials


def test_cancelling_mid_stream_stores_nothing(page: Page, app: RunningApp):
    prompt = unique("cancel me while forming")
    before = len(app.blob_names())
    generate(page, prompt)
    card = page.locator(JOB_CARD).filter(has_text=prompt)
    expect(card.locator(PARTIAL)).to_be_visible(timeout=10_000)
    card.locator(".job-cancel").click()
    expect(page.locator(toast("info")).filter(has_text="nothing was stored")).to_be_visible()
    page.wait_for_timeout(2000)  # past the offline provider's latency
    assert app.query("SELECT id FROM image WHERE prompt = ?", prompt) == []
    assert len(app.blob_names()) == before


def _bomb() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("1", (20_000, 20_000)).save(buffer, format="PNG")  # 400 M pixels, ~50 KB
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.png", b"just some text, renamed\n" * 40, "not a PNG, JPEG or WebP"),
        ("bomb.png", None, "too many pixels"),
        ("huge.png", b"\x89PNG" + b"\0" * (20 * 1024 * 1024 + 16), "larger than 20.0 MB"),
    ],
    ids=["text-renamed-png", "decompression-bomb", "oversized"],
)
def test_a_bad_upload_is_refused_with_a_message_and_stores_nothing(
    page: Page, app: RunningApp, name: str, content: bytes | None, message: str
):
    rows, blobs = len(app.image_rows()), len(app.blob_names())
    page.set_input_files(
        UPLOAD_INPUT,
        files=[{"name": name, "mimeType": "image/png", "buffer": content or _bomb()}],
    )
    expect(page.locator(toast("error")).filter(has_text=message)).to_be_visible(timeout=20_000)
    assert len(app.image_rows()) == rows and len(app.blob_names()) == blobs


# The same loop through the real openai SDK and the fake server's wire format.


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(image_px=512).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def openai_app(fake: FakeOpenAI, tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-openai-edits"),
        extra_env={"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.base_url},
        provider="openai",
        provider_timeout_seconds="10",
    ) as running:
        yield running


@pytest.fixture
def studio(browser: Browser, openai_app: RunningApp) -> Iterator[Page]:
    with studio_page(browser, openai_app.url, timeout_ms=30_000) as page:
        yield page


def test_through_the_sdk_a_stream_shows_partials_and_a_mask_goes_with_the_edit(
    studio: Page, openai_app: RunningApp, fake: FakeOpenAI
):
    # [linger] holds the stream open after the partials, so a slow machine still sees one
    prompt, edit_prompt = unique("a mountain lake [linger]"), unique("add a canoe")
    generate(studio, prompt)
    card = studio.locator(JOB_CARD).filter(has_text=prompt)
    expect(card.locator(PARTIAL)).to_be_visible(timeout=10_000)
    expect(_tile(studio, prompt)).to_have_count(1, timeout=30_000)
    generation = next(r for r in fake.requests if r.body.get("prompt") == prompt)
    assert generation.body["stream"] is True and generation.body["partial_images"] == 2

    _open(studio, prompt)
    studio.click("#edit-image")
    _paint_left_edge(studio)
    studio.fill("#edit-prompt", edit_prompt)
    studio.click("#edit-submit")
    expect(_tile(studio, edit_prompt)).to_have_count(1, timeout=30_000)
    edit = next(r for r in fake.requests if r.body.get("prompt") == edit_prompt)
    assert edit.path == "/v1/images/edits"
    (image,) = edit.body["image"]
    mask = PILImage.open(io.BytesIO(edit.body["mask"]["data"]))
    assert mask.format == "PNG" and mask.size == PILImage.open(io.BytesIO(image["data"])).size
    alpha = mask.getchannel("A")
    assert alpha.getpixel((1, mask.height // 2)) == 0  # painted: to change
    assert alpha.getpixel((mask.width - 2, mask.height // 2)) == 255  # kept
    _, kind, parent, _ = _row(openai_app, edit_prompt)
    assert kind == "edited" and _hex(parent) == _hex(_row(openai_app, prompt)[0])
