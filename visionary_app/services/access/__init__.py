"""Who is acting and what they may do: sessions, single sign-on, API tokens, ownership."""

from visionary_app.services.access.api_tokens import (
    SCOPES,
    ApiTokens,
    TokenHolder,
    TokenRefused,
    TokensUnavailable,
    parse_configured_tokens,
)
from visionary_app.services.access.clients import (
    client_address,
    cookie_value,
    is_https,
    origin_allowed,
)
from visionary_app.services.access.oidc import OidcClient, OidcConfig, SignOnFailed
from visionary_app.services.access.ownership import ANONYMOUS_PREFIX, Scope, Viewer
from visionary_app.services.access.session_store import SessionStore, SessionsUnavailable
from visionary_app.services.access.sessions import (
    SESSION_COOKIE,
    SHARED,
    VISITOR_COOKIE,
    AccessControl,
    Claims,
    hash_password,
)
from visionary_app.services.access.sign_in_limits import (
    SignInLimiter,
    SignInUnavailable,
    Verdict,
)
from visionary_app.services.access.teams import TeamDirectory, TeamsUnavailable

__all__ = [
    "ANONYMOUS_PREFIX",
    "SCOPES",
    "SESSION_COOKIE",
    "SHARED",
    "VISITOR_COOKIE",
    "AccessControl",
    "ApiTokens",
    "Claims",
    "OidcClient",
    "OidcConfig",
    "Scope",
    "SessionStore",
    "SessionsUnavailable",
    "SignInLimiter",
    "SignInUnavailable",
    "SignOnFailed",
    "TeamDirectory",
    "TeamsUnavailable",
    "TokenHolder",
    "TokenRefused",
    "TokensUnavailable",
    "Verdict",
    "Viewer",
    "client_address",
    "cookie_value",
    "hash_password",
    "is_https",
    "origin_allowed",
    "parse_configured_tokens",
]
