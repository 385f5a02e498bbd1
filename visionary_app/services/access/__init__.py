"""Who is acting and what they may do: sessions, single sign-on, API tokens, ownership."""

from visionary_app.services.access.api_tokens import (
    SCOPES,
    ApiTokens,
    TokenHolder,
    TokenRefused,
    TokensUnavailable,
    parse_configured_tokens,
)
from visionary_app.services.access.oidc import OidcClient, OidcConfig, SignOnFailed
from visionary_app.services.access.ownership import ANONYMOUS_PREFIX, Scope, Viewer
from visionary_app.services.access.sessions import SHARED, AccessControl, hash_password
from visionary_app.services.access.sign_in_limits import SignInLimiter, SignInUnavailable
from visionary_app.services.access.teams import TeamDirectory, TeamsUnavailable

__all__ = [
    "ANONYMOUS_PREFIX",
    "SCOPES",
    "SHARED",
    "AccessControl",
    "ApiTokens",
    "OidcClient",
    "OidcConfig",
    "Scope",
    "SignInLimiter",
    "SignInUnavailable",
    "SignOnFailed",
    "TeamDirectory",
    "TeamsUnavailable",
    "TokenHolder",
    "TokenRefused",
    "TokensUnavailable",
    "Viewer",
    "hash_password",
    "parse_configured_tokens",
]
