"""Images from a ComfyUI server (a team's own GPUs), through its documented HTTP and websocket API.

Workflows are queued with `POST /prompt` and followed on `/ws`; their outputs are read from
`/history` and `/view`.

A workflow is ComfyUI's "API format" JSON. Any string value may hold placeholders, filled per
job: `{{prompt}}`, `{{negative_prompt}}`, `{{width}}`, `{{height}}`, `{{seed}}`, `{{steps}}`,
`{{count}}` (images in the batch), `{{checkpoint}}`, and for edits `{{input_image}}` and
`{{mask}}` (names of the uploaded image and mask; the mask's alpha is clear where to change).
A value that is exactly one numeric placeholder becomes a number. Two workflows ship with the
app (`comfyui_workflows/`: text-to-image and inpaint); a folder setting adds more.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import logging
import re
import secrets
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from PIL import Image as PILImage

from visionary_app.services.generation.providers.base import (
    GeneratedImage,
    ImageOptions,
    InputImage,
    OnPartial,
    OnProgress,
    ProviderAnswer,
    ProviderError,
    ProviderUsage,
    image_from,
)
from visionary_app.services.generation.providers.capabilities import (
    ModelCapabilities,
    parse_size,
)
from visionary_app.services.generation.providers.errors import status_error

__all__ = [
    "BUILT_IN_WORKFLOWS",
    "ComfyUIClient",
    "ComfyUIProvider",
    "ComfyUISource",
    "Workflow",
    "fill_workflow",
    "load_workflows",
]

logger = logging.getLogger(__name__)

BUILT_IN_WORKFLOWS = Path(__file__).with_name("comfyui_workflows")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_NUMERIC = {"width", "height", "seed", "steps", "count"}
# A binary websocket frame: event type (1: a preview image), then the image's format.
_PREVIEW_EVENT = 1
_PREVIEW_FORMATS = {1: "image/jpeg", 2: "image/png"}


@dataclass(frozen=True)
class Workflow:
    """One API-format workflow and the placeholders it holds."""

    name: str
    graph: dict

    @property
    def placeholders(self) -> set[str]:
        """Every placeholder name the workflow holds."""
        return set(_PLACEHOLDER.findall(json.dumps(self.graph)))

    @property
    def edits(self) -> bool:
        """Whether it takes an image to start from."""
        return "input_image" in self.placeholders


def load_workflows(folder: Path | None = None) -> dict[str, Workflow]:
    """The built-in workflows, then those of `folder` (a file there replaces a built-in one).

    Raises ValueError naming a file that is not a JSON object of nodes.
    """
    found: dict[str, Workflow] = {}
    for directory in (BUILT_IN_WORKFLOWS, folder):
        if directory is None:
            continue
        for path in sorted(Path(directory).glob("*.json")):
            try:
                graph = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                msg = f"the ComfyUI workflow {path.name} is not readable JSON: {exc}"
                raise ValueError(msg) from exc
            if not isinstance(graph, dict) or not all(
                isinstance(node, dict) and "class_type" in node for node in graph.values()
            ):
                msg = f"{path.name} is not an API-format workflow (export it with 'Save (API)')"
                raise ValueError(msg)
            found[path.stem] = Workflow(path.stem, graph)
    return found


def fill_workflow(graph: dict, values: dict[str, object]) -> dict:
    """A copy of `graph` with every placeholder filled (a number where one stands alone)."""

    def fill(value):
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        if not isinstance(value, str):
            return value
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole[1] in values and whole[1] in _NUMERIC:
            return values[whole[1]]
        return _PLACEHOLDER.sub(lambda m: str(values.get(m[1], m[0])), value)

    return fill(graph)


class ComfyUIClient:
    """One ComfyUI server: its HTTP routes and its websocket, with an optional auth header."""

    def __init__(
        self, base_url: str, *, headers: dict[str, str] | None = None, timeout_s: float = 600.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers or {}
        self.timeout_s = timeout_s
        self.client_id = uuid.uuid4().hex
        self.label = "ComfyUI"

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            headers=self.headers,
            timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=self.timeout_s),
        )

    async def _json(self, response: aiohttp.ClientResponse):
        if response.status >= 400:
            text = await response.text()
            raise _http_problem(self.label, response.status, text)
        return await response.json(content_type=None)

    async def checkpoints(self) -> list[str]:
        """The checkpoints the server has (`/object_info/CheckpointLoaderSimple`)."""
        async with self._session() as session:
            async with session.get(f"{self.base_url}/object_info/CheckpointLoaderSimple") as r:
                info = await self._json(r)
        node = info.get("CheckpointLoaderSimple", {})
        names = node.get("input", {}).get("required", {}).get("ckpt_name", [[]])[0]
        return [name for name in names if isinstance(name, str)]

    async def reachable(self) -> None:
        """`/system_stats` answers (free)."""
        async with self._session() as session:
            async with session.get(f"{self.base_url}/system_stats") as response:
                await self._json(response)

    async def upload(self, session: aiohttp.ClientSession, data: bytes, name: str) -> str:
        """Put an input image into the server's input folder; the name to load it by."""
        form = aiohttp.FormData()
        form.add_field("image", data, filename=name, content_type="image/png")
        form.add_field("overwrite", "true")
        async with session.post(f"{self.base_url}/upload/image", data=form) as response:
            answer = await self._json(response)
        subfolder = answer.get("subfolder") or ""
        return f"{subfolder}/{answer['name']}" if subfolder else answer["name"]

    async def run(
        self,
        graph: dict,
        *,
        on_preview: Callable[[bytes, str], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        inputs: dict[str, bytes] | None = None,
    ) -> tuple[list[bytes], float]:
        """Run `graph` to its end: its output images, and how long it ran.

        `inputs` are uploaded first and their names fill their placeholders; the run is
        followed on the websocket.

        Cancelled, the run is stopped on the server: interrupted if it started, else taken out
        of the queue.
        """
        async with self._session() as session:
            ws_url = self.base_url.replace("http", "ws", 1) + f"/ws?clientId={self.client_id}"
            try:
                socket = await session.ws_connect(ws_url, heartbeat=30)
            except aiohttp.WSServerHandshakeError as exc:
                raise _http_problem(self.label, exc.status, exc.message) from exc
            async with socket:
                names = {}
                for placeholder, data in (inputs or {}).items():
                    names[placeholder] = await self.upload(
                        session, data, f"visionary-{uuid.uuid4().hex}.png"
                    )
                prompt_id = await self._queue(session, fill_workflow(graph, names))
                try:
                    started_at = await self._follow(socket, prompt_id, on_preview, on_progress)
                except asyncio.CancelledError:
                    await asyncio.shield(self._stop(prompt_id))
                    raise
                seconds = time.monotonic() - started_at
                images = await self._outputs(session, prompt_id)
        if not images:
            raise ProviderError(f"{self.label} finished the workflow without an image.")
        return images, seconds

    async def _queue(self, session: aiohttp.ClientSession, graph: dict) -> str:
        body = {"prompt": graph, "client_id": self.client_id}
        async with session.post(f"{self.base_url}/prompt", json=body) as response:
            if response.status == 400:
                raise _invalid_workflow(self.label, await response.json(content_type=None))
            answer = await self._json(response)
        return answer["prompt_id"]

    async def _follow(
        self,
        socket: aiohttp.ClientWebSocketResponse,
        prompt_id: str,
        on_preview: Callable[[bytes, str], None] | None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> float:
        """Read the socket until the run ends; when it started (monotonic seconds)."""
        started_at = time.monotonic()
        ours = False  # previews carry no prompt id: they are ours while our run executes
        async for message in socket:
            if message.type == aiohttp.WSMsgType.BINARY:
                if ours and on_preview is not None and len(message.data) > 8:
                    event, image_format = struct.unpack(">II", message.data[:8])
                    if event == _PREVIEW_EVENT and image_format in _PREVIEW_FORMATS:
                        on_preview(message.data[8:], _PREVIEW_FORMATS[image_format])
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            kind, data = event.get("type"), event.get("data") or {}
            if data.get("prompt_id") not in (None, prompt_id):
                ours = ours and kind not in ("execution_start", "executing")
                continue
            if kind == "execution_start":
                ours, started_at = True, time.monotonic()
            elif kind == "progress" and on_progress is not None:
                with contextlib.suppress(TypeError, ValueError):
                    on_progress(int(data["value"]), int(data["max"]))
            elif kind == "executing" and data.get("node") is None and ours:
                return started_at  # older servers end with this instead of execution_success
            elif kind == "execution_success":
                return started_at
            elif kind == "execution_error":
                raise _execution_error(self.label, data)
            elif kind == "execution_interrupted":
                raise ProviderError(f"{self.label} stopped the run (interrupted).", "refused")
        raise ProviderError(
            f"{self.label} went away in the middle of the run. Nothing was stored; try again "
            "when it is back.",
            "connection",
        )

    async def _outputs(self, session: aiohttp.ClientSession, prompt_id: str) -> list[bytes]:
        async with session.get(f"{self.base_url}/history/{prompt_id}") as response:
            history = await self._json(response)
        outputs = history.get(prompt_id, {}).get("outputs", {})
        images = []
        for node_id in sorted(outputs, key=lambda key: (len(key), key)):
            for image in outputs[node_id].get("images", []):
                if image.get("type", "output") != "output":
                    continue  # previews and temporary images are not results
                query = {key: image.get(key, "") for key in ("filename", "subfolder", "type")}
                async with session.get(f"{self.base_url}/view", params=query) as response:
                    if response.status >= 400:
                        raise _http_problem(self.label, response.status, await response.text())
                    images.append(await response.read())
        return images

    async def _stop(self, prompt_id: str) -> None:
        """Take the run out of the queue, and interrupt it if it is the one running."""
        try:
            async with self._session() as session:
                async with session.post(
                    f"{self.base_url}/queue", json={"delete": [prompt_id]}
                ) as response:
                    await response.read()
                async with session.post(
                    f"{self.base_url}/interrupt", json={"prompt_id": prompt_id}
                ) as response:
                    await response.read()
        except (aiohttp.ClientError, OSError) as exc:
            logger.warning("could not stop ComfyUI run %s: %s", prompt_id, exc)


def _http_problem(label: str, status: int, text: str) -> ProviderError:
    return status_error(label, status, text)


def _invalid_workflow(label: str, answer: dict) -> ProviderError:
    """`POST /prompt` refused the workflow: a missing node type, or a model not on the server."""
    error = answer.get("error") or {}
    details = []
    for node_id, node in (answer.get("node_errors") or {}).items():
        for problem in node.get("errors", []):
            details.append(f"node {node_id} ({node.get('class_type', '?')}): "
                           f"{problem.get('details') or problem.get('message')}")  # fmt: skip
    message = error.get("message") or "the workflow is not valid"
    if error.get("type") == "missing_node_type" or "not found" in message.lower():
        message = f"{message} (a custom node this workflow needs is not installed)"
    detail = f": {'; '.join(details)[:400]}" if details else ""
    return ProviderError(f"{label} refused the workflow: {message}{detail}", "refused")


def _execution_error(label: str, data: dict) -> ProviderError:
    node = f"{data.get('node_type') or 'a node'} (node {data.get('node_id', '?')})"
    message = str(data.get("exception_message") or data.get("exception_type") or "").strip()
    return ProviderError(
        f"{label} failed while running {node}: {message.splitlines()[0][:300] if message else ''}"
        " Nothing was stored.",
        "server",
    )


def _clear_mask(width: int, height: int) -> bytes:
    """A mask that changes everything (an edit with nothing painted)."""
    out = io.BytesIO()
    PILImage.new("RGBA", (width, height), (0, 0, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def _as_png(image: InputImage) -> tuple[bytes, int, int]:
    with PILImage.open(io.BytesIO(image.data)) as picture:
        width, height = picture.size
        out = io.BytesIO()
        picture.save(out, format="PNG")
    return out.getvalue(), width, height


class ComfyUISource:
    """Builds the picker's ComfyUI entries: each workflow of the folder, and each checkpoint.

    A checkpoint gets the built-in text-to-image workflow (and inpaint for edits). The
    server's checkpoints are read from `/object_info` by `discover` (a network call, so never
    while the studio is built); `VISIONARY_COMFYUI_CHECKPOINTS` names some up front.
    """

    def __init__(
        self,
        client: ComfyUIClient,
        workflows: dict[str, Workflow],
        capabilities: ModelCapabilities,
        *,
        checkpoints: list[str] = (),
        steps: int = 20,
        negative_prompt: str = "",
    ) -> None:
        self.client = client
        self.workflows = workflows
        self.capabilities = capabilities
        self.checkpoints = list(checkpoints)
        self.steps = steps
        self.negative_prompt = negative_prompt

    def _provider(self, model: str, workflow: Workflow, checkpoint: str | None):
        edit = self.workflows.get(f"{workflow.name}-inpaint") or (
            self.workflows.get("inpaint") if workflow.name == "text-to-image" else None
        )
        caps = dataclasses.replace(self.capabilities, edits=edit is not None)
        return ComfyUIProvider(
            self.client, model=model, workflow=workflow, capabilities=caps,
            edit_workflow=edit, checkpoint=checkpoint, steps=self.steps,
            negative_prompt=self.negative_prompt,
        )  # fmt: skip

    def providers(self) -> list[ComfyUIProvider]:
        """The entries: `text-to-image`, one per known checkpoint, one per extra workflow.

        `text-to-image` runs on the first known checkpoint, or the first the server lists.
        """
        first = self.checkpoints[0] if self.checkpoints else None
        built = []
        if "text-to-image" in self.workflows:
            text_to_image = self.workflows["text-to-image"]
            built.append(self._provider("text-to-image", text_to_image, first))
            built += [self._provider(name, text_to_image, name) for name in self.checkpoints]
        for name, workflow in self.workflows.items():
            if name in ("text-to-image", "inpaint") or workflow.edits:
                continue  # the built-ins serve the checkpoints; edit workflows serve others
            built.append(self._provider(name, workflow, first))
        return built

    async def discover(self) -> list[ComfyUIProvider]:
        """Entries for the server's checkpoints (raises ProviderError if it cannot be read)."""
        try:
            found = await self.client.checkpoints()
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderError(f"ComfyUI does not answer ({exc.__class__.__name__}).") from exc
        self.checkpoints = list(dict.fromkeys([*self.checkpoints, *found]))
        return self.providers()


class ComfyUIProvider:
    """One entry of the model picker: a workflow (and a checkpoint) on a ComfyUI server."""

    name = "comfyui"

    def __init__(
        self,
        client: ComfyUIClient,
        *,
        model: str,
        workflow: Workflow,
        capabilities: ModelCapabilities,
        edit_workflow: Workflow | None = None,
        checkpoint: str | None = None,
        steps: int = 20,
        negative_prompt: str = "",
    ) -> None:
        self._client = client
        self.model = model
        self.workflow = workflow
        self.edit_workflow = edit_workflow
        self.checkpoint = checkpoint
        self.capabilities = capabilities
        self.steps = steps
        self.negative_prompt = negative_prompt
        self.label = client.label

    async def _checkpoint(self) -> str:
        """The checkpoint to run on: the entry's own, else the first the server has."""
        if self.checkpoint:
            return self.checkpoint
        try:
            found = await self._client.checkpoints()
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderError(
                f"Could not reach {self.label} at {self._client.base_url}. Nothing was stored; "
                "check that it is running.",
                "connection",
            ) from exc
        if not found:
            raise ProviderError(f"{self.label} has no checkpoint to run the workflow on.")
        return found[0]

    async def _values(self, prompt: str, options: ImageOptions, width: int, height: int) -> dict:
        needs_checkpoint = "checkpoint" in self.workflow.placeholders
        return {
            "prompt": prompt,
            "negative_prompt": self.negative_prompt,
            "width": width,
            "height": height,
            "seed": options.seed if options.seed is not None else secrets.randbelow(2**31),
            "steps": self.steps,
            "count": options.n,
            "checkpoint": await self._checkpoint() if needs_checkpoint else "",
        }

    async def generate(
        self,
        prompt: str,
        options: ImageOptions,
        *,
        safety_identifier: str | None = None,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        """Run the workflow for `options.n` images at the chosen size."""
        width, height = parse_size(options.size) or (1024, 1024)
        values = await self._values(prompt, options, width, height)
        graph = fill_workflow(self.workflow.graph, values)
        return await self._run(graph, options, on_partial, on_progress=on_progress)

    async def edit(
        self,
        prompt: str,
        images: list[InputImage],
        options: ImageOptions,
        *,
        mask: bytes | None = None,
        safety_identifier: str | None = None,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        """Run the edit workflow on the first image, under the mask (all of it if none)."""
        workflow = self.edit_workflow
        if workflow is None or not images:
            raise ProviderError(f"{self.model} cannot edit images.")
        source, width, height = _as_png(images[0])
        graph = fill_workflow(workflow.graph, await self._values(prompt, options, width, height))
        inputs = {"input_image": source, "mask": mask or _clear_mask(width, height)}
        return await self._run(graph, options, on_partial, inputs, on_progress=on_progress)

    async def _run(
        self,
        graph: dict,
        options: ImageOptions,
        on_partial: OnPartial | None,
        inputs: dict[str, bytes] | None = None,
        *,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        preview = None if on_partial is None else (lambda data, kind: on_partial(0, data, kind))
        try:
            outputs, seconds = await self._client.run(
                graph, on_preview=preview, on_progress=on_progress, inputs=inputs
            )
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise ProviderError(
                f"Could not reach {self.label} at {self._client.base_url}. Nothing was stored; "
                "check that it is running.",
                "connection",
            ) from exc
        except TimeoutError as exc:
            raise ProviderError(
                f"{self.label} did not answer within {self._client.timeout_s:g} s. Nothing "
                "was stored.",
                "timeout",
            ) from exc
        images = [self._decode(data) for data in outputs[: options.n]]
        return ProviderAnswer(images, ProviderUsage(images=len(images), seconds=seconds))

    def _decode(self, data: bytes) -> GeneratedImage:
        return image_from(data, self.label)

    async def check_reachable(self) -> str:
        """`/system_stats` answers."""
        try:
            await self._client.reachable()
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderError(
                f"{self.label} at {self._client.base_url} does not answer "
                f"({exc.__class__.__name__}).",
                "connection",
            ) from exc
        return f"{self.label}: reachable"
