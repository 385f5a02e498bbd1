"""Serving a stand-in server's ASGI app on a free loopback port, from a background thread."""

from __future__ import annotations

import threading
import time

import uvicorn


class LoopbackServer:
    """Runs `asgi()` under uvicorn on 127.0.0.1; `port` is known once `start` returns."""

    port: int = 0
    _server: uvicorn.Server | None = None

    def asgi(self):
        """The ASGI app to serve."""
        raise NotImplementedError

    def start(self):
        """Serve on a free loopback port from a background thread; returns self."""
        config = uvicorn.Config(self.asgi(), host="127.0.0.1", port=0, log_level="warning")
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                msg = f"{type(self).__name__} did not start"
                raise RuntimeError(msg)
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.should_exit = True
