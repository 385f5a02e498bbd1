"""A stand-in ComfyUI server on loopback, speaking its HTTP routes and its websocket.

`POST /prompt` checks the workflow as ComfyUI does (known node types, checkpoints on the
list) and runs it: on `/ws?clientId=` it sends `execution_start`, `executing`, `progress`,
binary preview frames (event 1, format 2 = PNG), `executed` and `execution_success`; outputs
are then in `/history/{id}` and `/view`. Also `/upload/image`, `/interrupt`, `/queue`,
`/object_info/CheckpointLoaderSimple` and `/system_stats`. Markers in the positive prompt:
`[comfy-error]` (an execution_error in KSampler), `[vanish]` (the socket closes mid-run),
`[slow]` (a step a second, for cancelling).
"""

from __future__ import annotations

import asyncio
import io
import struct
import uuid
from dataclasses import dataclass, field

from PIL import Image as PILImage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.loopback import LoopbackServer
from visionary_app.services.generation.providers.offline import (
    coarse_preview,
    render_picture,
    render_png,
)

KNOWN_NODES = {
    "KSampler", "CheckpointLoaderSimple", "EmptyLatentImage", "CLIPTextEncode", "VAEDecode",
    "SaveImage", "LoadImage", "LoadImageMask", "VAEEncodeForInpaint", "RepeatLatentBatch",
}  # fmt: skip


@dataclass
class FakeComfyUI(LoopbackServer):
    """The stand-in's state: checkpoints, uploads, what ran and what was stopped."""

    checkpoints: list[str] = field(
        default_factory=lambda: ["sd_xl_base_1.0.safetensors", "flux1-schnell.safetensors"]
    )
    auth: tuple[str, str] | None = None
    prompts: dict[str, dict] = field(default_factory=dict)  # prompt id -> workflow
    uploads: dict[str, bytes] = field(default_factory=dict)
    outputs: dict[str, bytes] = field(default_factory=dict)  # file name -> image
    history: dict[str, dict] = field(default_factory=dict)
    interrupted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    previews_sent: int = 0
    port: int = 0
    _sockets: dict[str, WebSocket] = field(default_factory=dict)
    _running: dict[str, asyncio.Task] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """What VISIONARY_COMFYUI_URL takes."""
        return f"http://127.0.0.1:{self.port}"

    def _allowed(self, request) -> bool:
        return self.auth is None or request.headers.get(self.auth[0]) == self.auth[1]

    async def system_stats(self, request: Request):
        if not self._allowed(request):
            return Response(status_code=401)
        return JSONResponse({"system": {"os": "posix", "comfyui_version": "fake"}, "devices": []})

    async def object_info(self, request: Request):
        if not self._allowed(request):
            return Response(status_code=401)
        required = {"ckpt_name": [list(self.checkpoints), {}]}
        return JSONResponse({"CheckpointLoaderSimple": {"input": {"required": required}}})

    async def upload(self, request: Request):
        if not self._allowed(request):
            return Response(status_code=401)
        async with request.form() as form:
            image = form["image"]
            self.uploads[image.filename] = await image.read()
            return JSONResponse({"name": image.filename, "subfolder": "", "type": "input"})

    def _check(self, graph: dict) -> JSONResponse | None:
        for node_id, node in graph.items():
            kind = node.get("class_type")
            if kind not in KNOWN_NODES:
                error = {"type": "missing_node_type",
                         "message": f"Node '{kind}' not found. "
                                    "The custom node may not be installed.",
                         "details": f"Node ID '#{node_id}'"}  # fmt: skip
                return JSONResponse({"error": error, "node_errors": {}}, status_code=400)
            name = node.get("inputs", {}).get("ckpt_name")
            if kind == "CheckpointLoaderSimple" and name not in self.checkpoints:
                error = {
                    "type": "prompt_outputs_failed_validation",
                    "message": "Prompt outputs failed validation",
                    "details": "",
                }
                problem = {
                    "type": "value_not_in_list",
                    "message": "Value not in list",
                    "details": f"ckpt_name: '{name}' not in {self.checkpoints}",
                }
                node_errors = {node_id: {"errors": [problem], "class_type": kind}}
                return JSONResponse({"error": error, "node_errors": node_errors},
                                    status_code=400)  # fmt: skip
        return None

    async def prompt(self, request: Request):
        if not self._allowed(request):
            return Response(status_code=401)
        body = await request.json()
        graph = body["prompt"]
        refusal = self._check(graph)
        if refusal is not None:
            return refusal
        prompt_id = str(uuid.uuid4())
        self.prompts[prompt_id] = graph
        task = asyncio.create_task(self._execute(prompt_id, graph, body.get("client_id", "")))
        self._running[prompt_id] = task
        return JSONResponse(
            {"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": {}}
        )

    async def _send(self, client_id: str, kind: str, data: dict) -> None:
        socket = self._sockets.get(client_id)
        if socket is not None:
            await socket.send_json({"type": kind, "data": data})

    async def _execute(self, prompt_id: str, graph: dict, client_id: str) -> None:
        texts = [n["inputs"]["text"] for n in graph.values() if n["class_type"] == "CLIPTextEncode"]
        positive = texts[0] if texts else ""
        width, height, count = self._shape(graph)
        steps = 8 if "[slow]" in positive else 3
        pause = 1.0 if "[slow]" in positive else 0.05
        try:
            await asyncio.sleep(0.05)
            await self._send(client_id, "execution_start", {"prompt_id": prompt_id})
            await self._send(client_id, "executing", {"node": "3", "prompt_id": prompt_id})
            picture = render_picture(f"comfy:{positive}", width, height)
            for step in range(1, steps + 1):
                await asyncio.sleep(pause)
                progress = {"value": step, "max": steps, "prompt_id": prompt_id, "node": "3"}
                await self._send(client_id, "progress", progress)
                if "[vanish]" in positive and step == 2:
                    socket = self._sockets.pop(client_id, None)
                    if socket is not None:
                        await socket.close()
                    return
                if step <= 2 and client_id in self._sockets:
                    preview = coarse_preview(picture, step - 1, 2)
                    await self._sockets[client_id].send_bytes(struct.pack(">II", 1, 2) + preview)
                    self.previews_sent += 1
            if "[comfy-error]" in positive:
                error = {"prompt_id": prompt_id, "node_id": "3", "node_type": "KSampler",
                         "exception_message": "CUDA out of memory. Tried to allocate 2.00 GiB",
                         "exception_type": "torch.OutOfMemoryError", "traceback": []}  # fmt: skip
                await self._send(client_id, "execution_error", error)
                return
            images = []
            for index in range(count):
                name = f"visionary_{prompt_id[:8]}_{index:05}_.png"
                self.outputs[name] = render_png(f"comfy:{positive}:{index}", width, height)
                images.append({"filename": name, "subfolder": "", "type": "output"})
            self.history[prompt_id] = {
                "outputs": {"9": {"images": images}},
                "status": {"status_str": "success", "completed": True},
            }
            await self._send(
                client_id,
                "executed",
                {"node": "9", "output": {"images": images}, "prompt_id": prompt_id},
            )
            await self._send(client_id, "execution_success", {"prompt_id": prompt_id})
            await self._send(client_id, "executing", {"node": None, "prompt_id": prompt_id})
        except asyncio.CancelledError:
            await self._send(
                client_id,
                "execution_interrupted",
                {"prompt_id": prompt_id, "node_id": "3", "node_type": "KSampler"},
            )
        finally:
            self._running.pop(prompt_id, None)  # fmt: skip

    def _shape(self, graph: dict) -> tuple[int, int, int]:
        for node in graph.values():
            inputs = node["inputs"]
            if node["class_type"] == "EmptyLatentImage":
                return inputs["width"] // 4, inputs["height"] // 4, inputs["batch_size"]
        for node in graph.values():
            if node["class_type"] == "LoadImage":
                with PILImage.open(io.BytesIO(self.uploads[node["inputs"]["image"]])) as source:
                    count = next((n["inputs"]["amount"] for n in graph.values()
                                  if n["class_type"] == "RepeatLatentBatch"), 1)  # fmt: skip
                    return source.width, source.height, count
        return 64, 64, 1

    async def interrupt(self, request: Request):
        body = await request.json() if await request.body() else {}
        prompt_id = body.get("prompt_id", "")
        self.interrupted.append(prompt_id)
        task = self._running.get(prompt_id)
        if task is not None:
            task.cancel()
        return Response(status_code=200)

    async def queue(self, request: Request):
        body = await request.json()
        self.deleted += body.get("delete", [])
        return Response(status_code=200)

    async def history_of(self, request: Request):
        prompt_id = request.path_params["prompt_id"]
        entry = self.history.get(prompt_id)
        return JSONResponse({prompt_id: entry} if entry else {})

    async def view(self, request: Request):
        data = self.outputs.get(request.query_params.get("filename", ""))
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="image/png")

    async def socket(self, websocket: WebSocket):
        if self.auth is not None and websocket.headers.get(self.auth[0]) != self.auth[1]:
            await websocket.close(code=4401)
            return
        await websocket.accept()
        client_id = websocket.query_params.get("clientId", "")
        self._sockets[client_id] = websocket
        await websocket.send_json({"type": "status", "data": {
            "status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}})  # fmt: skip
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            if self._sockets.get(client_id) is websocket:
                self._sockets.pop(client_id, None)

    def asgi(self) -> Starlette:
        """ComfyUI's routes."""
        return Starlette(
            routes=[
                Route("/system_stats", self.system_stats),
                Route("/object_info/CheckpointLoaderSimple", self.object_info),
                Route("/upload/image", self.upload, methods=["POST"]),
                Route("/prompt", self.prompt, methods=["POST"]),
                Route("/interrupt", self.interrupt, methods=["POST"]),
                Route("/queue", self.queue, methods=["POST"]),
                Route("/history/{prompt_id}", self.history_of),
                Route("/view", self.view),
                WebSocketRoute("/ws", self.socket),
            ]
        )
