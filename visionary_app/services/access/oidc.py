"""Single sign-on with OpenID Connect (Microsoft Entra ID or any OIDC provider).

The authorization code flow with PKCE: Authlib's client builds the authorization URL and
exchanges the code; the ID token is checked with joserfc against the provider's published
keys (issuer, audience, expiry, nonce). What the browser carries between the two steps (state,
nonce, PKCE verifier) is sealed with the session key, so it cannot be forged or replayed
past its ten minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

__all__ = ["Identity", "OidcClient", "OidcConfig", "SignOnFailed"]

_PENDING_SECONDS = 600


class SignOnFailed(Exception):
    """The provider's answer could not be trusted or used; `code` says which way."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class OidcConfig:
    """Where the provider is, who this app is to it, and which claims name people."""

    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str = "openid profile email"
    name_claims: tuple[str, ...] = ("preferred_username", "email", "sub")
    admin_claim: str | None = None  # e.g. "roles": an admin has `admin_value` in it
    admin_value: str = "admin"
    teams_claim: str | None = None  # e.g. "groups": the user's teams


@dataclass(frozen=True)
class Identity:
    """Who signed in, as the provider vouched for it."""

    name: str
    admin: bool
    teams: tuple[str, ...] | None = None  # None: the provider is not asked for teams


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class OidcClient:
    """One provider: discovery, the authorization URL, and the checked identity."""

    def __init__(self, config: OidcConfig, key: bytes, *, timeout_s: float = 10.0) -> None:
        self.config = config
        self._key = key
        self._timeout_s = timeout_s
        self._metadata: dict | None = None
        self._keys: KeySet | None = None

    async def _discover(self) -> dict:
        if self._metadata is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.get(url)
                response.raise_for_status()
                self._metadata = response.json()
        return self._metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            metadata = await self._discover()
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.get(metadata["jwks_uri"])
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
        return self._keys

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=self.config.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self._timeout_s,
        )

    async def begin(self, redirect_uri: str) -> tuple[str, str]:
        """The provider's sign-in URL, and the sealed note the browser keeps until it returns."""
        metadata = await self._discover()
        state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                nonce=nonce,
            )
        note = {"state": state, "nonce": nonce, "verifier": verifier, "at": int(time.time())}
        return url, self._seal(note)

    async def finish(self, redirect_uri: str, code: str, state: str, sealed: str) -> Identity:
        """Exchange the code and check the ID token; raises SignOnFailed saying why not."""
        note = self._unseal(sealed)
        if note is None or not hmac.compare_digest(note["state"], state):
            raise SignOnFailed("mismatch", "the state does not match this browser's")
        metadata = await self._discover()
        try:
            async with self._client(redirect_uri) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=note["verifier"]
                )
        except Exception as exc:  # Authlib and httpx raise many kinds; all mean "refused"
            raise SignOnFailed("refused", "the code exchange was refused") from exc
        claims = await self._checked_claims(token.get("id_token", ""), note["nonce"])
        name = next(
            (str(claims[claim]) for claim in self.config.name_claims if claims.get(claim)), ""
        )
        if not name:
            raise SignOnFailed("nameless", "no claim names the user")
        admin = False
        if self.config.admin_claim:
            granted = claims.get(self.config.admin_claim) or []
            granted = [granted] if isinstance(granted, str) else granted
            admin = self.config.admin_value in granted
        teams = None
        if self.config.teams_claim:
            named = claims.get(self.config.teams_claim) or []
            named = [named] if isinstance(named, str) else named
            teams = tuple(sorted({str(team).strip()[:128] for team in named if str(team).strip()}))
        return Identity(name=name.strip().lower(), admin=admin, teams=teams)

    async def _checked_claims(self, id_token: str, nonce: str) -> dict:
        for refresh in (False, True):  # a key rotated since we fetched them: fetch once more
            try:
                decoded = jwt.decode(id_token, await self._key_set(refresh=refresh))
                break
            except JoseError:
                if refresh:
                    raise SignOnFailed(
                        "invalid", "the ID token's signature does not verify"
                    ) from None
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise SignOnFailed("invalid", f"the ID token's claims do not hold: {exc}") from exc
        return decoded.claims

    def _seal(self, note: dict) -> str:
        body = _b64(json.dumps(note, separators=(",", ":")).encode())
        return f"{body}.{_b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())}"

    def _unseal(self, sealed: str) -> dict | None:
        body, _, signature = sealed.partition(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            return None
        try:
            note = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if int(time.time()) - int(note.get("at", 0)) > _PENDING_SECONDS:
            return None
        return note
