"""A stand-in for Replicate's HTTP API on loopback, driven by the official `replicate` client.

`POST /v1/models/{owner}/{name}/predictions` (with `Prefer: wait`) answers a finished
prediction whose output files are served by the stand-in itself; `GET /v1/predictions/{id}`,
`POST /v1/predictions/{id}/cancel` and `GET /v1/models/{owner}/{name}` as Replicate's. Errors
are problem details. Markers in the prompt: `[nsfw]` (a failed prediction, as FLUX's safety
checker fails it), `[402]` (no credit left), `[slow]` (still processing; finishes after a few
seconds of polling, unless cancelled).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer
from visionary_app.services.generation.providers.offline import render_png

_SIDES = {"1:1": (96, 96), "16:9": (160, 90), "3:2": (144, 96), "2:3": (96, 144)}


@dataclass
class FakeReplicate(LoopbackServer):
    """The stand-in's state: the token, its predictions and files, what was cancelled."""

    token: str = "r8_test_token_0123456789"
    predictions: dict[str, dict] = field(default_factory=dict)
    inputs: dict[str, dict] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        """What VISIONARY_REPLICATE_BASE_URL takes."""
        return f"http://127.0.0.1:{self.port}"

    def _problem(self, status: int, title: str, detail: str) -> JSONResponse:
        return JSONResponse({"title": title, "detail": detail, "status": status},
                            status_code=status)  # fmt: skip

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _finish(self, prediction: dict, body: dict) -> None:
        width, height = _SIDES.get(body.get("aspect_ratio", "1:1"), (96, 96))
        urls = []
        for index in range(int(body.get("num_outputs", 1))):
            name = f"{prediction['id']}-{index}.png"
            self.files[name] = render_png(f"replicate:{body['prompt']}:{index}", width, height)
            urls.append(f"{self.base_url}/files/{name}")
        prediction |= {"status": "succeeded", "output": urls,
                       "metrics": {"predict_time": 0.8, "image_count": len(urls)}}  # fmt: skip

    async def create(self, request: Request):
        if not self._authorised(request):
            return self._problem(401, "Unauthenticated", "You did not pass a valid token")
        body = (await request.json())["input"]
        model = f"{request.path_params['owner']}/{request.path_params['name']}"
        prompt = body.get("prompt", "")
        if "[402]" in prompt:
            return self._problem(402, "Insufficient credit", "You have insufficient credit.")
        prediction_id = uuid.uuid4().hex[:12]
        prediction = {
            "id": prediction_id, "model": model, "version": "fake", "input": body,
            "status": "processing", "output": None, "error": None, "logs": "",
            "metrics": {}, "created_at": "2026-12-04T00:00:00Z",
            "urls": {"get": f"{self.base_url}/v1/predictions/{prediction_id}",
                     "cancel": f"{self.base_url}/v1/predictions/{prediction_id}/cancel"},
        }  # fmt: skip
        self.predictions[prediction_id] = prediction
        self.inputs[prediction_id] = body
        if "[nsfw]" in prompt:
            prediction |= {"status": "failed", "metrics": {"predict_time": 0.4},
                           "error": "NSFW content detected. Try running it again, or try a "
                                    "different prompt."}  # fmt: skip
        elif "[slow]" in prompt:
            prediction["ready_at"] = time.monotonic() + 6
        else:
            self._finish(prediction, body)
        return JSONResponse(self._public(prediction), status_code=201)

    @staticmethod
    def _public(prediction: dict) -> dict:
        return {key: value for key, value in prediction.items() if key != "ready_at"}

    async def read(self, request: Request):
        prediction = self.predictions.get(request.path_params["id"])
        if prediction is None:
            return self._problem(404, "Not found", "No such prediction")
        ready_at = prediction.get("ready_at")
        if prediction["status"] == "processing" and ready_at and time.monotonic() >= ready_at:
            self._finish(prediction, self.inputs[prediction["id"]])
        return JSONResponse(self._public(prediction))

    async def cancel(self, request: Request):
        prediction = self.predictions.get(request.path_params["id"])
        if prediction is None:
            return self._problem(404, "Not found", "No such prediction")
        self.cancelled.append(prediction["id"])
        if prediction["status"] in ("starting", "processing"):
            prediction["status"] = "canceled"
        return JSONResponse(self._public(prediction))

    async def model(self, request: Request):
        if not self._authorised(request):
            return self._problem(401, "Unauthenticated", "You did not pass a valid token")
        owner, name = request.path_params["owner"], request.path_params["name"]
        return JSONResponse({"url": f"https://replicate.com/{owner}/{name}", "owner": owner,
                             "name": name, "description": "", "visibility": "public",
                             "run_count": 0, "latest_version": None})  # fmt: skip

    async def file(self, request: Request):
        data = self.files.get(request.path_params["name"])
        return Response(data, media_type="image/png") if data else Response(status_code=404)

    def asgi(self) -> Starlette:
        """Replicate's routes, and the output files."""
        return Starlette(
            routes=[
                Route("/v1/models/{owner}/{name}/predictions", self.create, methods=["POST"]),
                Route("/v1/models/{owner}/{name}", self.model),
                Route("/v1/predictions/{id}", self.read),
                Route("/v1/predictions/{id}/cancel", self.cancel, methods=["POST"]),
                Route("/files/{name}", self.file),
            ]
        )
