"""Entra ID stand-ins for keyless Azure on Azurite: its access tokens, and a managed identity.

Azurite (`--oauth basic`) checks a bearer token's claims, not its signature, so a token made
here signs an app in the way Entra ID would. `ManagedIdentityEndpoint` serves such tokens over
App Service's documented managed-identity protocol (`IDENTITY_ENDPOINT` and
`IDENTITY_HEADER`), which `DefaultAzureCredential` in the app's own process speaks: the app
runs its production code path, with no test hook.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

__all__ = ["STORAGE_AUDIENCE", "TENANT", "ManagedIdentityEndpoint", "entra_access_token"]

TENANT = "ab1f708d-50f6-404c-a006-d71b2ac7a606"
STORAGE_AUDIENCE = "https://storage.azure.com"


def _b64(claims: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()


def entra_access_token(lifetime_s: int = 3600) -> tuple[str, int]:
    """An unsigned Entra-shaped token for Azure Storage, and when it expires (epoch seconds)."""
    now = int(time.time())
    claims = {"aud": STORAGE_AUDIENCE, "iss": f"https://sts.windows.net/{TENANT}/",
              "iat": now, "nbf": now, "exp": now + lifetime_s, "tid": TENANT,
              "oid": "00000000-0000-0000-0000-000000000001"}  # fmt: skip
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.", now + lifetime_s


class ManagedIdentityEndpoint:
    """App Service's managed-identity token endpoint on loopback, for the storage audience.

    Answers GET ?api-version=2019-08-01&resource=… carrying the `X-IDENTITY-HEADER` secret,
    as App Service does; anything else is refused. `requests` counts the tokens handed out.
    """

    def __init__(self) -> None:
        self.secret = secrets.token_hex(16)
        self.requests = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                if self.headers.get("X-IDENTITY-HEADER") != endpoint.secret:
                    self._answer(401, {"error": "invalid_request"})
                elif query.get("resource") != [STORAGE_AUDIENCE] or "api-version" not in query:
                    self._answer(400, {"error": "invalid_resource"})
                else:
                    endpoint.requests += 1
                    token, expires_on = entra_access_token()
                    answer = {"access_token": token, "expires_on": str(expires_on),
                              "resource": STORAGE_AUDIENCE, "token_type": "Bearer"}  # fmt: skip
                    self._answer(200, answer)

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def env(self) -> dict[str, str]:
        """The variables App Service sets for a managed identity."""
        port = self._server.server_address[1]
        return {"IDENTITY_ENDPOINT": f"http://127.0.0.1:{port}/msi/token",
                "IDENTITY_HEADER": self.secret}  # fmt: skip

    def __enter__(self) -> ManagedIdentityEndpoint:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
